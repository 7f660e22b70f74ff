#include "gradflow/calibration/calibrator.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "gradflow/calibration/calibrate.h"
#include "gradflow/calibration/ensemble_temperature.h"
#include "gradflow/calibration/metrics.h"
#include "gradflow/calibration/temperature.h"
#include "gradflow/calibration/vector_scaling.h"
#include "gradflow/errors.h"
#include "gradflow/softmax.h"

namespace gradflow {

namespace {

class TemperatureScaling : public Calibrator {
 public:
  explicit TemperatureScaling(double temperature, std::string method = "temperature")
      : temperature_(temperature), method_(std::move(method)) {}
  std::string method() const override { return method_; }
  MatrixT<double> probabilities(const Matrix& logits) const override { return softmax(logits, temperature_); }
  Eigen::VectorXd sample_nll(const Matrix& logits, const Labels& labels) const override {
    Eigen::VectorXd nll(logits.rows());
    const double u = 1.0 / temperature_;
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      const auto z = logits.row(i).cast<double>();
      const LogSumExp<double> row = log_sum_exp(z, u);
      nll[i] = row.log_sum + (row.max - z(labels[i])) * u;  // logsumexp(z/T) − z_y/T
    }
    return nll;
  }
  nlohmann::json parameters() const override { return {{"temperature", temperature_}}; }

 private:
  double temperature_;
  std::string method_;
};

double positive_number(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_number()) throw InputError(where + ": \"" + key + "\" is missing or not a number");
  const double v = j[key].get<double>();
  if (!(v > 0) || !std::isfinite(v)) throw InputError(where + ": \"" + key + "\" must be a positive number");
  return v;
}

Eigen::VectorXd number_vector(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_array() || j[key].empty()) throw InputError(where + ": \"" + key + "\" must be a list of numbers");
  Eigen::VectorXd v(static_cast<Eigen::Index>(j[key].size()));
  for (size_t i = 0; i < j[key].size(); ++i) {
    if (!j[key][i].is_number()) throw InputError(where + ": \"" + key + "\" must be a list of numbers");
    v[static_cast<Eigen::Index>(i)] = j[key][i].get<double>();
  }
  if (!v.allFinite()) throw InputError(where + ": \"" + key + "\" holds a non-finite number");
  return v;
}

}  // namespace

const std::vector<std::string>& calibration_methods() {
  static const std::vector<std::string> methods{"temperature", "vector", "ensemble_temperature"};
  return methods;
}

void check_validation_split(const Labels& labels, int64_t classes) {
  if (labels.size() < kMinimumValidationSamples) {
    throw InputError("calibration needs at least " + std::to_string(kMinimumValidationSamples) +
                     " validation samples, the validation split has " + std::to_string(labels.size()) +
                     " (raise data.validation)");
  }
  std::set<int64_t> seen;
  for (Eigen::Index i = 0; i < labels.size(); ++i) seen.insert(static_cast<int64_t>(labels[i]));
  if (seen.size() < 2) {
    throw InputError("calibration needs a validation split with more than one class; all " +
                     std::to_string(labels.size()) + " samples are of class " + std::to_string(*seen.begin()) +
                     " (of " + std::to_string(classes) + ")");
  }
}

std::unique_ptr<Calibrator> temperature_calibrator(double temperature) {
  return std::make_unique<TemperatureScaling>(temperature);
}

std::unique_ptr<Calibrator> fit_calibrator(const std::string& method, const Matrix& logits, const Labels& labels,
                                           double raw_temperature) {
  check_validation_split(labels, logits.cols());
  const TemperatureOptions options;
  if (method == "temperature") {
    const TemperatureFit t = fit_temperature(logits, labels, options);
    auto c = std::make_unique<TemperatureScaling>(t.temperature);
    c->fit = t.to_json();
    c->fit["converged"] = t.bound.empty() && std::fabs(t.gradient) < options.tolerance;
    return c;
  }
  if (method == "vector") {
    const TemperatureFit t = fit_temperature(logits, labels, options);
    return fit_vector_scaling(logits, labels, t.temperature);
  }
  if (method == "ensemble_temperature") return fit_ensemble_temperature(logits, labels, raw_temperature);
  throw InputError("unknown calibration method \"" + method + "\" (temperature, vector, ensemble_temperature)");
}

std::unique_ptr<Calibrator> calibrator_from_json(const nlohmann::json& json) {
  const std::string where = std::string("metadata ") + kCalibratorKey;
  if (!json.is_object() || !json.contains("method") || !json["method"].is_string() || !json.contains("parameters") ||
      !json["parameters"].is_object()) {
    throw InputError(where + " must be an object with \"method\" and \"parameters\"");
  }
  const std::string method = json["method"];
  const nlohmann::json& p = json["parameters"];
  std::unique_ptr<Calibrator> c;
  if (method == "temperature" || method == "none") {
    c = std::make_unique<TemperatureScaling>(positive_number(p, "temperature", where), method);
  } else if (method == "vector") {
    const Eigen::VectorXd scale = number_vector(p, "scale", where), bias = number_vector(p, "bias", where);
    if (scale.size() != bias.size()) throw InputError(where + ": \"scale\" and \"bias\" differ in length");
    if ((scale.array() <= 0).any()) throw InputError(where + ": every \"scale\" must be positive");
    c = std::make_unique<VectorScaling>(scale, bias);
  } else if (method == "ensemble_temperature") {
    const Eigen::VectorXd w = number_vector(p, "weights", where);
    if (w.size() != 3 || (w.array() < 0).any() || std::fabs(w.sum() - 1) > 1e-6) {
      throw InputError(where + ": \"weights\" must be 3 non-negative numbers summing to 1");
    }
    c = std::make_unique<EnsembleTemperature>(positive_number(p, "temperature", where),
                                              positive_number(p, "raw_temperature", where),
                                              std::array<double, 3>{w[0], w[1], w[2]});
  } else {
    throw InputError(where + ": unknown method \"" + method + "\"");
  }
  if (json.contains("fit")) c->fit = json["fit"];
  return c;
}

std::unique_ptr<Calibrator> stored_calibrator(const std::map<std::string, std::string>& metadata, double raw_temperature) {
  if (auto it = metadata.find(kCalibratorKey); it != metadata.end()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
      throw InputError(std::string("metadata ") + kCalibratorKey + " is not valid JSON");
    }
    return calibrator_from_json(j);
  }
  return std::make_unique<TemperatureScaling>(stored_temperature(metadata, raw_temperature),
                                              metadata.count(kTemperatureKey) > 0 ? "temperature" : "none");
}

void put_calibrator(std::map<std::string, std::string>& metadata, const Calibrator& calibrator) {
  metadata[kCalibratorKey] = calibrator.to_json().dump();
  if (calibrator.method() == "temperature") {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", calibrator.parameters()["temperature"].get<double>());
    metadata[kTemperatureKey] = text;
  } else {
    metadata.erase(kTemperatureKey);
  }
}

}  // namespace gradflow
