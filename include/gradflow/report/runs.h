#pragma once
// Reading finished and unfinished run directories side by side: what `gradflow compare` prints
// and draws, and what `gradflow sweep` puts in its table.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gradflow {

// The files of one run directory that describe it.
struct RunRecord {
  std::string dir;
  nlohmann::json config;               // config.json
  nlohmann::json summary;              // summary.json; null while the run is unfinished
  std::vector<nlohmann::json> epochs;  // metrics.jsonl, one record per epoch
  bool finished() const { return !summary.is_null(); }
};

// Reads a run directory; InputError "<dir>: not a gradflow run directory (no config.json)" for
// anything else, and naming the file of a malformed config.json, summary.json or metrics.jsonl.
RunRecord read_run(const std::string& dir);

// The final figures of a run: from summary.json when it is finished, else from its last logged
// epoch (test accuracy unknown). NaN stands for a figure the run does not have.
struct FinalMetrics {
  bool finished = false;
  int64_t epochs = 0;
  double validation_accuracy = NAN, validation_loss = NAN, test_accuracy = NAN, train_seconds = NAN;
  nlohmann::json to_json() const;  // the unknown figures as null
};
FinalMetrics final_metrics(const RunRecord& run);

// A figure as `format` writes it ("%.4f"), or `unknown` for NaN.
std::string figure_text(double value, const char* format, const char* unknown = "–");

// The config values that are not the same in every run: a JSON pointer ("/optimizer/lr") and
// each run's value there, null where a run has none. Leaves of the configs are compared, so a
// list that differs in one entry shows that entry ("/model/layers/0/units").
struct ConfigDifference {
  std::string path;
  std::vector<nlohmann::json> values;  // one per run
};
std::vector<ConfigDifference> config_differences(const std::vector<nlohmann::json>& configs);

// How each run is named in tables and legends: the directory's last component, or its whole
// path where two runs share that.
std::vector<std::string> run_labels(const std::vector<RunRecord>& runs);

// A self-contained HTML page: the runs, their config differences and final figures, and train
// loss, validation loss and validation accuracy per epoch with the runs overlaid.
std::string compare_page(const std::vector<RunRecord>& runs);

}  // namespace gradflow
