// gradflow compare: runs side by side: what differs in their configs, their final figures, and
// their curves overlaid on one HTML page.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "gradflow/files.h"
#include "gradflow/report/runs.h"

namespace gradflow::cli {

namespace {

struct CompareArgs {
  std::vector<std::string> run_dirs;
  std::string html = "compare.html";
  bool json = false;
};

// A table with the runs as numbered columns ([1], [2], ...), named above it, so it stays narrow
// whatever the directories are called.
void print_comparison(const std::vector<RunRecord>& runs, const std::vector<ConfigDifference>& differences) {
  const auto labels = run_labels(runs);
  for (size_t i = 0; i < runs.size(); ++i) {
    std::printf("[%zu] %s%s\n", i + 1, labels[i].c_str(),
                runs[i].finished() ? "" : "  (unfinished: figures of its last logged epoch)");
  }
  std::vector<std::vector<std::string>> table{{""}};
  for (size_t i = 0; i < runs.size(); ++i) table[0].push_back("[" + std::to_string(i + 1) + "]");
  auto add_row = [&](const std::string& name, const std::vector<std::string>& cells) {
    table.push_back({name});
    table.back().insert(table.back().end(), cells.begin(), cells.end());
  };
  std::vector<FinalMetrics> metrics;
  for (const auto& run : runs) metrics.push_back(final_metrics(run));
  auto metric_row = [&](const std::string& name, auto cell) {
    std::vector<std::string> cells;
    for (const auto& m : metrics) cells.push_back(cell(m));
    add_row(name, cells);
  };
  metric_row("status", [](const FinalMetrics& m) { return std::string(m.finished ? "finished" : "unfinished"); });
  metric_row("epochs", [](const FinalMetrics& m) { return std::to_string(m.epochs); });
  metric_row("validation accuracy", [](const FinalMetrics& m) { return figure_text(100 * m.validation_accuracy, "%.2f%%"); });
  metric_row("validation loss", [](const FinalMetrics& m) { return figure_text(m.validation_loss, "%.4f"); });
  metric_row("test accuracy", [](const FinalMetrics& m) { return figure_text(100 * m.test_accuracy, "%.2f%%"); });
  metric_row("training seconds", [](const FinalMetrics& m) { return figure_text(m.train_seconds, "%.1f"); });
  const size_t first_difference = table.size();
  for (const auto& d : differences) {
    std::vector<std::string> cells;
    for (const auto& v : d.values) cells.push_back(v.is_null() ? "(absent)" : v.is_string() ? v.get<std::string>() : v.dump());
    add_row(d.path, cells);
  }
  std::vector<size_t> widths(table[0].size(), 0);
  for (const auto& row : table) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c] == "–" ? size_t(1) : row[c].size());
  }
  for (size_t r = 0; r < table.size(); ++r) {
    if (r == first_difference) {
      std::printf("\nconfig differences (%zu JSON path%s):\n", differences.size(), differences.size() == 1 ? "" : "s");
    }
    std::string line;
    for (size_t c = 0; c < table[r].size(); ++c) {
      const std::string& cell = table[r][c];
      const size_t shown = cell == "–" ? 1 : cell.size();
      const std::string space(widths[c] - shown, ' ');
      line += c == 0 ? cell + space : "  " + space + cell;
    }
    std::printf("%s\n", line.c_str());
  }
  if (differences.empty()) std::printf("\nthe configs are the same\n");
}

}  // namespace

void add_compare_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "runs side by side: their config differences, final figures, and curves overlaid on an HTML page");
  cmd->add_option("run_dir", a->run_dirs, "run directories written by gradflow train")
      ->required()
      ->type_name("RUN_DIR");
  cmd->add_option("--html", a->html, "the page with the runs' curves overlaid")
      ->type_name("FILE")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print the runs, their final figures and config differences as one JSON object");
  cmd->callback([&action, a]() {
    action = [a]() {
      std::vector<RunRecord> runs;
      for (const auto& dir : a->run_dirs) runs.push_back(read_run(dir));
      std::vector<nlohmann::json> configs;
      for (const auto& run : runs) configs.push_back(run.config);
      const auto differences = config_differences(configs);
      write_file_atomic(a->html, compare_page(runs));
      if (a->json) {
        nlohmann::json list = nlohmann::json::array(), diff = nlohmann::json::array();
        const auto labels = run_labels(runs);
        for (size_t i = 0; i < runs.size(); ++i) {
          nlohmann::json entry = final_metrics(runs[i]).to_json();
          entry["run"] = labels[i];
          entry["run_dir"] = runs[i].dir;
          list.push_back(entry);
        }
        for (const auto& d : differences) diff.push_back({{"path", d.path}, {"values", d.values}});
        std::cout << nlohmann::json{{"runs", list}, {"config_differences", diff}, {"html", a->html}}.dump() << std::endl;
      } else {
        print_comparison(runs, differences);
        std::printf("\npage %s\n", a->html.c_str());
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
