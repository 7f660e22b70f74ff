#include "gradflow/calibration/calibrate.h"

#include <cmath>
#include <cstdio>

#include "gradflow/checkpoint.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"

namespace gradflow {

nlohmann::json CalibrationResult::to_json() const {
  return {{"fit", fit.to_json()},
          {"raw_temperature", raw_temperature},
          {"test_before", before.to_json()},
          {"test_after", after.to_json()},
          {"confusion", confusion}};
}

CalibrationResult calibrate(Sequential<float>& model, const Dataset& validation, const Dataset& test, int bins,
                            int64_t batch_size) {
  if (validation.size() == 0) throw InputError("temperature scaling needs a validation split (data.validation > 0)");
  CalibrationResult result;
  result.raw_temperature = model.head().temperature();
  result.fit = fit_temperature(predict_logits(model, validation.images, batch_size), validation.labels);
  const Matrix test_logits = predict_logits(model, test.images, batch_size);
  result.before = calibration_metrics(test_logits, test.labels, result.raw_temperature, bins);
  result.after = calibration_metrics(test_logits, test.labels, result.fit.temperature, bins);
  result.confusion = confusion_matrix(test_logits, test.labels);
  return result;
}

double stored_temperature(const std::map<std::string, std::string>& metadata, double fallback) {
  auto it = metadata.find(kTemperatureKey);
  if (it == metadata.end()) return fallback;
  try {
    size_t used = 0;
    const double t = std::stod(it->second, &used);
    if (used == it->second.size() && t > 0 && std::isfinite(t)) return t;
  } catch (const std::exception&) {
  }
  throw InputError(std::string("metadata ") + kTemperatureKey + " is not a positive number: \"" + it->second + "\"");
}

void store_temperature(const std::string& path, double temperature) {
  SafetensorsFile file = read_safetensors(path);
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", temperature);
  file.metadata[kTemperatureKey] = text;
  write_safetensors(path, file);
}

}  // namespace gradflow
