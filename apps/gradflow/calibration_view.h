#pragma once
// The terminal tables of eval, calibrate and calibrate --compare: every figure with its 95%
// bootstrap interval, one column per set of predictions, the estimators beneath, and a verdict
// line for every paired change.
#include <string>
#include <vector>

#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"

namespace gradflow::cli {

struct CalibrationColumn {
  std::string name;
  const Assessment* assessment;
  const FigureIntervals* intervals;
};

// "test split, 10000 samples; 95% basic bootstrap intervals (1000 resamples, seed 0)"
void print_calibration_table(const std::vector<CalibrationColumn>& columns, const BootstrapResult& bootstrap);
// One verdict line per figure, headed by `label` when it is not empty.
void print_changes(const std::string& label, const FigureIntervals& changes);
// The checkpoint's calibration settings (its config's calibration section and seed, or the
// defaults), with a command's --bins, --bootstrap and --seed replacing them when given (>= 0).
CalibrationSettings calibration_settings_of(const LoadedCheckpoint& checkpoint, int bins, int bootstrap, int64_t seed);

// A calibrator's parameters and fit in one or two lines.
void print_calibrator(const Calibrator& calibrator);

}  // namespace gradflow::cli
