#pragma once
// What a run does after its last epoch: calibration.method fitted on the validation split (skipped,
// with a warning, when it has fewer than 50 samples), model.safetensors (the calibrator in its
// metadata), calibration.json, the test evaluation, summary.json and report.html.
#include <chrono>

#include "gradflow/config.h"
#include "gradflow/data/dataset.h"
#include "gradflow/data/source.h"
#include "gradflow/distributed/communicator.h"
#include "gradflow/model.h"
#include "gradflow/train/run_directory.h"
#include "gradflow/train/summary.h"

namespace gradflow {

// Fills summary.calibration, summary.test and summary.total_seconds (wall time since `run_start`).
// The checkpoint's metadata names the data (`data`: its shape and class names) beside the model.
// Data-parallel ranks all call it: they split the test evaluation; rank 0 alone calibrates and
// writes the files.
void finish_run(Sequential<float>& model, const Config& config, const DataDescription& data, const Dataset& validation,
                const Dataset& test, const RunDirectory& dir, TrainSummary& summary,
                std::chrono::steady_clock::time_point run_start, Communicator& ranks);

}  // namespace gradflow
