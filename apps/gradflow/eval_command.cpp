#include <spdlog/spdlog.h>

#include <iostream>

#include "commands.h"
#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"
#include "gradflow/train.h"

namespace gradflow::cli {

namespace {
struct EvalArgs {
  std::string checkpoint;
  std::string data;
  std::string split = "test";
  int64_t batch = 1000;
  int threads = 0;
  bool json = false;
};
}  // namespace

void add_eval_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a checkpoint on a split of its dataset");
  cmd->add_option("--checkpoint", args->checkpoint, "a model.safetensors written by gradflow train")->required();
  cmd->add_option("--data", args->data, "the dataset directory (default: the one in the checkpoint's config)");
  cmd->add_option("--split", args->split, "which split to evaluate")
      ->check(CLI::IsMember({"test", "validation", "train"}))
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "evaluation batch size")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--threads", args->threads, "threads (0: every core)")->check(CLI::Range(0, 1024))->capture_default_str();
  cmd->add_flag("--json", args->json, "print the result as one JSON object on stdout");
  cmd->callback([&action, args]() {
    action = [args]() {
      set_threads(args->threads);
      LoadedCheckpoint loaded = load_checkpoint(args->checkpoint);
      DataOptions data;
      if (!loaded.config.is_null()) data = parse_config(loaded.config).data;
      data.classes = loaded.model.classes();
      if (!args->data.empty()) data.dir = args->data;
      const Split split = parse_split(args->split);
      spdlog::info("evaluating {} on the {} split of {}", args->checkpoint, args->split, data.dir);
      const Dataset dataset = load_split(data, split);
      if (dataset.features() != loaded.model.input_size()) {
        throw InputError(data.dir + ": images have " + std::to_string(dataset.features()) + " features, the model in " +
                         args->checkpoint + " expects " + std::to_string(loaded.model.input_size()));
      }
      const EvalResult result = evaluate(loaded.model, dataset, args->batch);
      if (args->json) {
        nlohmann::json out = result.to_json();
        out["checkpoint"] = args->checkpoint;
        out["split"] = args->split;
        out["data"] = data.dir;
        std::cout << out.dump() << std::endl;
      } else {
        std::cout << args->split << " accuracy " << result.accuracy * 100 << "%  loss " << result.loss << "  ("
                  << result.count << " samples)" << std::endl;
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
