#pragma once
// A calibrator maps a model's logits to calibrated probabilities. Every calibrator is fitted on
// the validation split only, is valid by construction (positive temperatures and scales,
// mixture weights on the simplex), records how its fit converged, and is stored in a
// checkpoint's metadata as JSON under "gradflow.calibrator" ({"method", "parameters", "fit"});
// temperature scaling also keeps "gradflow.temperature", which older readers understand.
//   temperature           p = softmax(z / T)                                   temperature.h
//   vector                p = softmax(w ⊙ z + b), w = exp(a) > 0 per class     vector_scaling.h
//   ensemble_temperature  p = w₁·softmax(z / T) + w₂·softmax(z / T₀) + w₃/C     ensemble_temperature.h
// A new method is one more file behind this interface and one line in fit_calibrator and
// calibrator_from_json.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

inline constexpr const char* kCalibratorKey = "gradflow.calibrator";

class Calibrator {
 public:
  virtual ~Calibrator() = default;
  virtual std::string method() const = 0;
  // logits: (N, C) -> probabilities: (N, C), rows summing to 1
  virtual MatrixT<double> probabilities(const Matrix& logits) const = 0;
  // logits: (N, C), labels: (N) -> −log p_y per sample, computed in log space (exact where p underflows)
  virtual Eigen::VectorXd sample_nll(const Matrix& logits, const Labels& labels) const = 0;
  virtual nlohmann::json parameters() const = 0;
  nlohmann::json to_json() const { return {{"method", method()}, {"parameters", parameters()}, {"fit", fit}}; }
  // How it was fitted: iterations, converged, the gradient at the end, validation NLL; null when not fitted.
  nlohmann::json fit;
};

// The calibration methods, in the order --compare shows them.
const std::vector<std::string>& calibration_methods();

// InputError (one line) when the validation split cannot support a fit: fewer than
// kMinimumValidationSamples samples, or a single class.
inline constexpr int64_t kMinimumValidationSamples = 50;
void check_validation_split(const Labels& labels, int64_t classes);

// Fits `method` on validation logits (N, C) and labels; `raw_temperature` is the head's own
// temperature (the raw model, which ensemble_temperature mixes in). InputError for an unknown method.
std::unique_ptr<Calibrator> fit_calibrator(const std::string& method, const Matrix& logits, const Labels& labels,
                                           double raw_temperature);

// Temperature scaling at a given T (the raw model: the head's temperature).
std::unique_ptr<Calibrator> temperature_calibrator(double temperature);

// From Calibrator::to_json(); InputError naming what is wrong.
std::unique_ptr<Calibrator> calibrator_from_json(const nlohmann::json& json);

// The calibrator a checkpoint stores: "gradflow.calibrator", else "gradflow.temperature", else
// the raw model (the head's temperature, method "none").
std::unique_ptr<Calibrator> stored_calibrator(const std::map<std::string, std::string>& metadata, double raw_temperature);

// Writes `calibrator` into checkpoint metadata (and "gradflow.temperature" for temperature
// scaling, removed for the other methods, whose temperature it would misstate).
void put_calibrator(std::map<std::string, std::string>& metadata, const Calibrator& calibrator);

}  // namespace gradflow
