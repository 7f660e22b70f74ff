#include "calibration_view.h"

#include <cmath>
#include <cstdio>

#include "gradflow/config.h"

namespace gradflow::cli {

namespace {

constexpr int kLabelWidth = 30;
constexpr int kColumnWidth = 20;

void row(const std::string& label, const std::vector<std::string>& cells) {
  std::printf("  %-*s", kLabelWidth, label.c_str());
  for (const std::string& c : cells) std::printf(" %*s", kColumnWidth, c.c_str());
  std::printf("\n");
}

std::string number(double v, const char* format = "%.4f") {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string range(double lower, double upper, const char* format = "[%.4f, %.4f]") {
  char text[64];
  std::snprintf(text, sizeof text, format, lower, upper);
  return text;
}

}  // namespace

void print_calibration_table(const std::vector<CalibrationColumn>& columns, const BootstrapResult& bootstrap) {
  if (columns.empty()) return;
  const int64_t n = columns[0].assessment->metrics.count;
  if (bootstrap.resamples > 0) {
    std::printf("%lld samples; 95%% basic bootstrap intervals (%d resamples, seed %llu)\n", static_cast<long long>(n),
                bootstrap.resamples, static_cast<unsigned long long>(bootstrap.seed));
  } else {
    std::printf("%lld samples; no bootstrap intervals (bootstrap 0)\n", static_cast<long long>(n));
  }
  std::vector<std::string> names;
  for (const auto& c : columns) names.push_back(c.name);
  row("", names);
  for (int m = 0; m < kFigures; ++m) {
    std::vector<std::string> values, intervals;
    for (const auto& c : columns) {
      const Interval& i = (*c.intervals)[static_cast<size_t>(m)];
      values.push_back(number(i.estimate));
      intervals.push_back(range(i.lower, i.upper));
    }
    row(figure_name(static_cast<Figure>(m)), values);
    if (bootstrap.resamples > 0) row("", intervals);
  }
  std::printf("%d bins; noise floor: the ECE of a calibrated model with these confidences; debiased ECE: L2\n",
              columns[0].assessment->estimators.bins);
  auto estimator_row = [&](const std::string& label, auto value) {
    std::vector<std::string> cells;
    for (const auto& c : columns) cells.push_back(value(c.assessment->estimators));
    row(label, cells);
  };
  estimator_row("ECE noise floor, mean", [](const CalibrationEstimators& e) { return number(e.noise.equal_width.mean); });
  estimator_row("ECE noise floor, 95%", [](const CalibrationEstimators& e) {
    return range(e.noise.equal_width.lower, e.noise.equal_width.upper);
  });
  estimator_row("  p (calibrated model >= ECE)", [](const CalibrationEstimators& e) { return number(e.noise.equal_width.p_value, "%.3f"); });
  estimator_row("equal-mass ECE noise floor", [](const CalibrationEstimators& e) { return number(e.noise.equal_mass.mean); });
  estimator_row("  p (calibrated model >= it)", [](const CalibrationEstimators& e) { return number(e.noise.equal_mass.p_value, "%.3f"); });
  estimator_row("SmoothECE (at σ*)", [](const CalibrationEstimators& e) {
    return number(e.smooth.value) + " (" + number(e.smooth.bandwidth, "%.3f") + ")";
  });
  estimator_row("classwise ECE", [](const CalibrationEstimators& e) { return number(e.classwise_ece); });
  estimator_row("signed ECE (conf − acc)", [](const CalibrationEstimators& e) { return number(e.signed_ece, "%+.4f"); });
}

CalibrationSettings calibration_settings_of(const LoadedCheckpoint& checkpoint, int bins, int bootstrap, int64_t seed) {
  CalibrationSettings settings;
  if (!checkpoint.config.is_null()) {
    const Config config = parse_config(checkpoint.config);
    if (config.calibration.method != "none") settings.method = config.calibration.method;
    settings.bins = config.calibration.bins;
    settings.bootstrap = config.calibration.bootstrap;
    settings.seed = config.seed;
    settings.batch_size = config.training.eval_batch_size;
  }
  if (bins >= 0) settings.bins = bins;
  if (bootstrap >= 0) settings.bootstrap = bootstrap;
  if (seed >= 0) settings.seed = static_cast<uint64_t>(seed);
  return settings;
}

void print_changes(const std::string& label, const FigureIntervals& changes) {
  if (!label.empty()) std::printf("%s\n", label.c_str());
  for (int m = 0; m < kFigures; ++m) {
    std::printf("  %s\n", verdict(static_cast<Figure>(m), changes[static_cast<size_t>(m)]).c_str());
  }
}

void print_calibrator(const Calibrator& calibrator) {
  const nlohmann::json p = calibrator.parameters(), fit = calibrator.fit;
  const std::string method = calibrator.method();
  std::printf("%s: ", method.c_str());
  if (method == "temperature" || method == "none") {
    std::printf("T = %.6f", p["temperature"].get<double>());
    if (fit.is_object() && fit.contains("bound") && fit["bound"].is_string()) {
      std::printf(" (on the %s bound of the search)", fit["bound"].get<std::string>().c_str());
    }
  } else if (method == "vector") {
    std::printf("scale");
    for (const auto& v : p["scale"]) std::printf(" %.3f", v.get<double>());
    std::printf(", bias");
    for (const auto& v : p["bias"]) std::printf(" %+.3f", v.get<double>());
  } else if (method == "ensemble_temperature") {
    const auto& w = p["weights"];
    std::printf("%.4f·softmax(z/%.4f) + %.4f·softmax(z/%.4g) + %.4f·uniform", w[0].get<double>(),
                p["temperature"].get<double>(), w[1].get<double>(), p["raw_temperature"].get<double>(), w[2].get<double>());
  }
  if (fit.is_object() && fit.contains("iterations")) {
    std::printf("; %d iterations, %s", fit["iterations"].get<int>(),
                fit.value("converged", false) ? "converged" : "NOT converged");
  }
  std::printf("\n");
}

}  // namespace gradflow::cli
