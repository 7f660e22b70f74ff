#pragma once
// Calibration as a step after training: fit T on the validation logits, measure the test split
// before (the model's own temperature) and after T, and keep T in the checkpoint's metadata
// ("gradflow.temperature").
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/calibration/metrics.h"
#include "gradflow/calibration/temperature.h"
#include "gradflow/data/dataset.h"
#include "gradflow/model.h"

namespace gradflow {

inline constexpr const char* kTemperatureKey = "gradflow.temperature";

struct CalibrationResult {
  TemperatureFit fit;
  double raw_temperature = 1;  // the head's own temperature: "before"
  CalibrationMetrics before, after;  // on the test split
  std::vector<std::vector<int64_t>> confusion;  // test split; T never changes a prediction
  nlohmann::json to_json() const;
};

CalibrationResult calibrate(Sequential<float>& model, const Dataset& validation, const Dataset& test, int bins,
                            int64_t batch_size = 1000);

// The calibrated temperature stored in checkpoint metadata, or `fallback` when there is none.
double stored_temperature(const std::map<std::string, std::string>& metadata, double fallback);
// Rewrites the checkpoint at `path` (atomically) with `temperature` in its metadata.
void store_temperature(const std::string& path, double temperature);

}  // namespace gradflow
