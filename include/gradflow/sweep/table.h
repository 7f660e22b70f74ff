#pragma once
// A sweep's results: one row per run, read from the run directories (summary.json, or the last
// epoch of metrics.jsonl while unfinished), sorted by validation accuracy, and written as
// sweep.csv, JSON, a terminal table and sweep.html.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gradflow/report/runs.h"
#include "gradflow/sweep/plan.h"
#include "gradflow/sweep/run_status.h"

namespace gradflow::sweep {

struct SweepRow {
  size_t index = 0;  // in plan.runs
  std::string name;
  std::vector<nlohmann::json> values;  // one per grid axis
  RunStatus status = RunStatus::pending;
  int exit_code = 0;  // a failed run's
  FinalMetrics metrics;
  std::vector<std::pair<double, double>> validation_accuracy;  // (epoch, accuracy) per logged epoch
  std::string status_text() const;  // "finished", "failed (exit 3)", ...
};

// Every run of the plan as its directory stands now, in the plan's order.
std::vector<SweepRow> collect_rows(const SweepPlan& plan);

// Best validation accuracy first; runs without one last; ties in the plan's order.
void sort_rows(std::vector<SweepRow>& rows);

// run, one column per grid path, status, validation_accuracy, validation_loss, test_accuracy,
// epochs, train_seconds; an unknown figure is an empty field.
std::string rows_csv(const SweepPlan& plan, const std::vector<SweepRow>& rows);
// {"sweep", "dir", "runs": [{"run", "values": {path: value}, "status", "exit_code"?, figures...}]}
nlohmann::json rows_json(const SweepPlan& plan, const std::vector<SweepRow>& rows);
// A text table within `width` columns where it can be: the run names whole, dropping the
// validation loss, then the seconds, then the epochs where they do not fit.
std::string rows_text(const std::vector<SweepRow>& rows, size_t width = 80);
// The table and the runs' validation accuracy per epoch overlaid, one self-contained page.
std::string sweep_page(const SweepPlan& plan, const std::vector<SweepRow>& rows);

// Writes sweep.csv and sweep.html into the sweep directory.
void write_tables(const SweepPlan& plan, const std::vector<SweepRow>& rows);

}  // namespace gradflow::sweep
