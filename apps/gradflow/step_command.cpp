#include <limits>
#include <unistd.h>

#include <iostream>

#include "commands.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/data/source.h"
#include "gradflow/errors.h"
#include "gradflow/report/step_page.h"
#include "gradflow/stepper.h"
#include "gradflow/train.h"
#include "model_source.h"
#include "options.h"
#include "step_view.h"

namespace gradflow::cli {

namespace {
struct StepArgs {
  ModelSource source;
  std::string split = "test";
  int64_t index = 0;
  int64_t count = 1;
  double lr = 0;  // 0: the config's
  bool json = false;
  bool full = false;
  bool check = false;
  int64_t entries = kDefaultCheckEntries;
  double tolerance = 1e-6;
  int64_t width = 0;  // 0: the terminal's, 80 off a terminal
  std::string weight;  // "2.weight[3,17]": follow one entry
  int64_t steps = 1;
  std::string html;  // also write the explorer page here
};
}  // namespace

void add_step_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<StepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "step", "walk one training step stage by stage: forward, ŷ, loss, δ = (ŷ − q)/T, backward, saliency, update");
  add_model_source_options(*cmd, a->source);
  cmd->add_option("--split", a->split, "where the samples come from")
      ->check(CLI::IsMember({"test", "validation", "train"}))
      ->capture_default_str();
  cmd->add_option("--index", a->index, "the first sample")->check(integer_in(0, std::numeric_limits<int64_t>::max()))->capture_default_str();
  cmd->add_option("--count", a->count, "the mini-batch size")->check(CLI::Range(int64_t(1), int64_t(100000)))->capture_default_str();
  cmd->add_option("--lr", a->lr, "learning rate of the update (default: the config's)")->check(CLI::PositiveNumber);
  auto* json_flag = cmd->add_flag("--json", a->json, "print the whole trace as one JSON object");
  cmd->add_flag("--full", a->full, "with --json: every value of every tensor")->needs(json_flag);
  auto* check_flag = cmd->add_flag("--check", a->check, "compare every gradient with finite differences in double precision; exit 1 above tolerance");
  cmd->add_option("--html", a->html, "also write the step as one self-contained HTML page to explore (no network)");
  add_entries_option(*cmd, a->entries)->needs(check_flag);
  cmd->add_option("--tolerance", a->tolerance, "largest relative error --check accepts")->capture_default_str()->needs(check_flag);
  cmd->add_option("--weight", a->weight,
                  "follow one entry, e.g. 2.weight[3,17]: each sample's term of its gradient, the finite difference, its update");
  cmd->add_option("--steps", a->steps, "take N consecutive steps on the same samples; the first is shown stage by stage")
      ->check(CLI::Range(int64_t(1), int64_t(10000)))
      ->capture_default_str();
  cmd->add_option("--width", a->width, "columns every line fits in (default: the terminal's width, 80 off a terminal)")
      ->check(CLI::Range(int64_t(40), int64_t(1000)));
  cmd->callback([&action, a]() {
    action = [a]() {
      SourcedModel sourced = load_model(a->source);
      set_threads(sourced.config.threads);
      use_product_backend(sourced.config.backend);
      const Split split = parse_split(a->split);
      DataSplits splits = load_data(sourced.config.data, {split});
      const Dataset data = std::move(splits.split(split));
      if (data.features() != sourced.model.input_size()) {
        throw InputError(sourced.config.data.dir + ": images have " + std::to_string(data.features()) +
                         " features, the model expects " + std::to_string(sourced.model.input_size()));
      }
      if (a->index > data.size() || a->count > data.size() - a->index) {  // no index + count: it may overflow
        throw InputError("--index " + std::to_string(a->index) + " --count " + std::to_string(a->count) + " goes past the " +
                         std::to_string(data.size()) + " samples of the " + a->split + " split");
      }
      const Matrix x = data.images.middleRows(a->index, a->count);
      const Labels y = data.labels.segment(a->index, a->count);

      StepOptions options;
      options.learning_rate = a->lr > 0 ? a->lr : sourced.config.schedule.base_lr;
      options.keep_values = a->full || !a->html.empty();
      if (a->check) {
        GradCheckOptions check;
        check.entries_per_tensor = a->entries;
        check.tolerance = a->tolerance;
        check.seed = sourced.config.seed;
        options.check = check;
      }
      if (!a->weight.empty()) options.weight = parse_weight_entry(a->weight);
      const std::unique_ptr<Optimizer> optimizer = make_optimizer(sourced.model.parameters(), sourced.config.optimizer);
      StepTrace trace = trace_step(sourced.model, *optimizer, x, y, options);
      for (int64_t i = 0; i < a->count; ++i) trace.indices.push_back(a->index + i);
      // with --html every step in full, for the page's slider
      std::vector<nlohmann::json> page_traces;
      auto record = [&](const StepTrace& t) {
        nlohmann::json recorded = t.to_json(true);
        recorded["split"] = a->split;
        page_traces.push_back(step_page_trace(std::move(recorded)));
      };
      if (!a->html.empty()) record(trace);
      // further steps on the same samples, summarised
      std::vector<StepSummary> steps{summarize_step(trace, 1)};
      StepOptions next;
      next.learning_rate = options.learning_rate;
      next.largest_entries = 0;
      next.keep_values = !a->html.empty();
      for (int64_t k = 2; k <= a->steps; ++k) {
        StepTrace later = trace_step(sourced.model, *optimizer, x, y, next);
        later.indices = trace.indices;
        steps.push_back(summarize_step(later, k));
        if (!a->html.empty()) record(later);
      }

      if (!a->html.empty()) {
        const DataDescription& described = splits.description;
        std::string source = a->source.checkpoint.empty() ? "--config " + a->source.config : "--checkpoint " + a->source.checkpoint;
        for (const auto& assignment : a->source.overrides) source += " --set " + assignment;
        write_step_page(a->html, page_traces,
                        {described.channels == 1 ? described.rows : 0, described.cols, described.class_names,
                         "gradflow step " + source + " --split " + a->split + " --index " + std::to_string(a->index) +
                             " --count " + std::to_string(a->count) + (a->check ? " --check" : "") +
                             (a->steps > 1 ? " --steps " + std::to_string(a->steps) : "")});
      }
      if (a->json) {
        nlohmann::json out = trace.to_json(a->full);
        out["split"] = a->split;
        if (a->steps > 1) {
          out["steps"] = nlohmann::json::array();
          for (const auto& step : steps) out["steps"].push_back(step.to_json());
        }
        std::cout << out.dump() << std::endl;
      } else {
        const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
        const int64_t width = a->width > 0 ? a->width : ::isatty(STDOUT_FILENO) ? screen_size(STDOUT_FILENO).columns : 80;
        const DataDescription& described = splits.description;
        const ViewOptions view{terminal, 4, described.channels == 1 ? described.rows : 0, described.cols,
                               described.class_names, width};
        auto pages = step_pages(trace, view);
        if (a->steps > 1) pages.push_back(steps_page(steps, trace, view));
        if (terminal) {
          page_interactively(pages, STDIN_FILENO, static_cast<size_t>(width));
        } else {
          for (size_t i = 0; i < pages.size(); ++i) {
            std::cout << stage_header(pages, i, static_cast<size_t>(width)) << "\n" << pages[i].text << "\n";
          }
          std::cout.flush();
        }
      }
      return trace.check && !trace.check->passed() ? 1 : 0;
    };
  });
}

}  // namespace gradflow::cli
