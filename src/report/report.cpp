#include "gradflow/report/report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/json_check.h"
#include "gradflow/files.h"
#include "gradflow/report/svg.h"

namespace gradflow {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Runs `read`, turning a missing key or a value of the wrong type into an InputError naming
// `where` (a file, or a file and its line).
template <typename Read>
auto reading(const std::string& where, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const json::exception& e) {
    std::string reason = e.what();  // "[json.exception.type_error.302] type must be number, but is string"
    const auto bracket = reason.find("] ");
    if (bracket != std::string::npos) reason = reason.substr(bracket + 2);
    throw InputError(where + ": " + reason);
  }
}

using Records = JsonlRecords;

std::string fmt(double v, const char* format = "%.4f") {
  char b[48];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

// The bins of `list` (equal-width "bins", or the estimators' "equal_mass_bins"), each with its
// consistency band from `floor` (a noise floor's "bin_accuracy_bands") when there is one.
std::vector<svg::Bin> bins_of(const json& list, const json* floor = nullptr) {
  const json* bands = floor != nullptr && floor->contains("bin_accuracy_bands") ? &floor->at("bin_accuracy_bands") : nullptr;
  std::vector<svg::Bin> bins;
  for (const auto& b : list) {
    svg::Bin bin{b.at("lower").get<double>(), b.at("upper").get<double>(), b.at("confidence").get<double>(),
                 b.at("accuracy").get<double>(), b.at("count").get<long long>(), std::nullopt};
    if (bands != nullptr && bins.size() < bands->size() && !bands->at(bins.size()).is_null()) {
      const json& band = bands->at(bins.size());
      bin.band = std::make_pair(band.at(0).get<double>(), band.at(1).get<double>());
    }
    bins.push_back(bin);
  }
  return bins;
}

// calibration.json as written since the estimators and intervals: the method, the calibrator,
// and per test set "intervals" and "estimators" (an older file has the figures and bins only).
bool has_evidence(const json& calibration) {
  return calibration.contains("method") && calibration.contains("test_before") &&
         calibration.at("test_before").contains("intervals") && calibration.at("test_before").contains("estimators");
}

// The calibrated column's name: what the stored calibrator is, with its parameters when few.
std::string method_label(const json& calibration) {
  const std::string method = calibration.at("method").get<std::string>();
  const json parameters =
      calibration.contains("calibrator") ? calibration.at("calibrator").value("parameters", json::object()) : json::object();
  if (method == "temperature") {
    const json& t = parameters.contains("temperature") ? parameters.at("temperature")
                                                       : calibration.at("fit").at("temperature");
    return "after temperature scaling (T = " + fmt(t.get<double>(), "%.3g") + ")";
  }
  if (method == "vector") return "after vector scaling";
  if (method == "ensemble_temperature") {
    return "after ensemble temperature scaling" +
           (parameters.contains("temperature") ? " (T = " + fmt(parameters.at("temperature").get<double>(), "%.3g") + ")"
                                               : std::string());
  }
  if (method == "none") return "uncalibrated (method none)";
  return "after " + method;
}

// The stored calibrator's parameters in one line.
std::string calibrator_description(const json& calibration) {
  if (!calibration.contains("calibrator")) return "–";
  const json& c = calibration.at("calibrator");
  const std::string method = c.value("method", std::string("?"));
  const json parameters = c.value("parameters", json::object());
  auto list = [](const json& values, const char* format) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : " ") + fmt(v.get<double>(), format);
    return out;
  };
  std::string text = method;
  if (method == "temperature" && parameters.contains("temperature")) {
    text = "temperature scaling: softmax(z / T), T = " + fmt(parameters.at("temperature").get<double>(), "%.4g");
  } else if (method == "vector" && parameters.contains("scale")) {
    text = "vector scaling: softmax(w ⊙ z + b), w = " + list(parameters.at("scale"), "%.3f") + "; b = " +
           list(parameters.at("bias"), "%+.3f");
  } else if (method == "ensemble_temperature" && parameters.contains("weights")) {
    const json& w = parameters.at("weights");
    text = "ensemble temperature scaling: " + fmt(w.at(0).get<double>()) + "·softmax(z/" +
           fmt(parameters.at("temperature").get<double>(), "%.4g") + ") + " + fmt(w.at(1).get<double>()) + "·softmax(z/" +
           fmt(parameters.at("raw_temperature").get<double>(), "%.4g") + ") + " + fmt(w.at(2).get<double>()) + "·uniform";
  } else if (method == "none") {
    text = "none: the raw model";
  }
  const json fit = c.value("fit", json::object());
  if (fit.contains("converged") && fit.at("converged").is_boolean() && !fit.at("converged").get<bool>()) {
    text += " (the fit did not converge)";
  }
  if (fit.contains("bound") && fit.at("bound").is_string()) text += " (at the " + fit.at("bound").get<std::string>() + " bound)";
  return text;
}

// "0.0328 [0.0284, 0.0376]" from an estimate and an optional [lower, upper]; "–" with no estimate.
std::string with_interval(const json& set, const char* key, const json* interval) {
  if (!set.contains(key) || !set.at(key).is_number()) return "–";
  std::string text = fmt(set.at(key).get<double>());
  if (interval != nullptr && interval->is_array() && interval->size() == 2) {
    text += "<br><span class='interval'>[" + fmt(interval->at(0).get<double>()) + ", " + fmt(interval->at(1).get<double>()) +
            "]</span>";
  }
  return text;
}

// A noise floor's mean, 95% range and p, or "–".
std::string floor_text(const json& estimators, const char* key) {
  if (!estimators.contains(key)) return "–";
  const json& f = estimators.at(key);
  if (!f.contains("mean")) return "–";
  return fmt(f.at("mean").get<double>()) + "<br><span class='interval'>[" + fmt(f.at("lower").get<double>()) + ", " +
         fmt(f.at("upper").get<double>()) + "]</span>" +
         (f.contains("p_value") ? "<br><span class='interval'>p = " + fmt(f.at("p_value").get<double>(), "%.3f") + "</span>"
                                : std::string());
}

// The summary rows of a calibration.json with intervals, noise floors and paired changes.
std::string evidence_rows(const json& calibration) {
  const json& before = calibration.at("test_before");
  const json& after = calibration.at("test_after");
  const json& changes = calibration.contains("changes") ? calibration.at("changes") : json::object();
  const json& before_estimators = before.at("estimators");
  const json& after_estimators = after.at("estimators");
  std::string rows = "<tr><th></th><th>raw</th><th>" + svg::escape(method_label(calibration)) +
                     "</th><th>change (paired bootstrap, 95%)</th></tr>";
  const std::string bins = before.contains("bins") ? std::to_string(before.at("bins").size()) : std::string("?");
  auto row = [&](const std::string& name, const char* key, const json& from_before, const json& from_after) {
    auto interval = [&](const json& set) {
      return set.contains("intervals") && set.at("intervals").contains(key) ? &set.at("intervals").at(key) : nullptr;
    };
    const std::string verdict = changes.contains(key) && changes.at(key).contains("verdict")
                                    ? svg::escape(changes.at(key).at("verdict").get<std::string>())
                                    : std::string("–");
    rows += "<tr><td>" + name + "</td><td>" + with_interval(from_before, key, interval(before)) + "</td><td>" +
            with_interval(from_after, key, interval(after)) + "</td><td class='verdict'>" + verdict + "</td></tr>";
  };
  row("test accuracy", "accuracy", before, after);
  row("NLL", "nll", before, after);
  row("Brier", "brier", before, after);
  row("ECE (" + bins + " equal-width bins)", "ece", before, after);
  rows += "<tr><td>ECE of a calibrated model (noise floor: mean, 95%, p)</td><td>" +
          floor_text(before_estimators, "noise_floor") + "</td><td>" + floor_text(after_estimators, "noise_floor") +
          "</td><td></td></tr>";
  row("MCE", "mce", before, after);
  if (before_estimators.contains("equal_mass_ece")) {
    row("equal-mass ECE", "equal_mass_ece", before_estimators, after_estimators);
    rows += "<tr><td>equal-mass ECE of a calibrated model</td><td>" +
            floor_text(before_estimators, "equal_mass_noise_floor") + "</td><td>" +
            floor_text(after_estimators, "equal_mass_noise_floor") + "</td><td></td></tr>";
  }
  if (before_estimators.contains("debiased_ece")) row("debiased ECE (L2)", "debiased_ece", before_estimators, after_estimators);
  rows += "<tr><td>calibrator</td><td colspan='3' class='text'>" + svg::escape(calibrator_description(calibration)) +
          "</td></tr>";
  const std::string resamples =
      calibration.contains("bootstrap") && calibration.at("bootstrap").contains("resamples")
          ? std::to_string(calibration.at("bootstrap").at("resamples").get<long long>()) + " "
          : std::string();
  rows += "<tr><td colspan='4' class='note'>Test split. Brackets: 95% basic bootstrap intervals (" + resamples +
          "resamples); a change is paired (the same resampled images before and after) and significant when its "
          "interval excludes 0. Noise floor: the ECE a perfectly calibrated model with these confidences and this many "
          "samples would show (mean and 95% range); p: the share of such models at or above the observed ECE.</td></tr>";
  return rows;
}

std::string training_curves(const Records& metrics, const std::string& path) {
  svg::Series train_loss{"train", "#4c78a8", {}, {}}, val_loss{"validation", "#f58518", {}, {}};
  svg::Series train_acc{"train", "#4c78a8", {}, {}}, val_acc{"validation", "#f58518", {}, {}};
  svg::Series lr{"learning rate", "#54a24b", {}, {}};
  for (const auto& [line, m] : metrics) {
    reading(path + ": line " + std::to_string(line), [&, &m = m] {
      const double e = m.at("epoch").get<double>();
      train_loss.x.push_back(e);
      train_loss.y.push_back(m.at("train_loss").get<double>());
      val_loss.x.push_back(e);
      val_loss.y.push_back(m.at("validation_loss").get<double>());
      train_acc.x.push_back(e);
      train_acc.y.push_back(m.at("train_accuracy").get<double>());
      val_acc.x.push_back(e);
      val_acc.y.push_back(m.at("validation_accuracy").get<double>());
      lr.x.push_back(e);
      lr.y.push_back(m.at("lr").get<double>());
    });
  }
  svg::ChartOptions per_epoch, per_epoch_log, per_epoch_fraction;
  per_epoch.integer_x = per_epoch_log.integer_x = per_epoch_fraction.integer_x = true;
  per_epoch_log.log_y = true;
  per_epoch_fraction.fraction_y = true;
  return "<h2>Training</h2><div class='row'>" +
         html_figure(svg::line_chart("loss per epoch", "epoch", {train_loss, val_loss}, per_epoch_log),
                "mean cross-entropy (log scale)") +
         html_figure(svg::line_chart("accuracy per epoch", "epoch", {train_acc, val_acc}, per_epoch_fraction),
                "share of samples classified correctly") +
         html_figure(svg::line_chart("learning rate", "epoch", {lr}, per_epoch), "at the last step of each epoch") + "</div>\n";
}

std::string gradient_norms(const Records& grads, const std::string& path) {
  if (grads.empty()) return "";
  std::map<int64_t, svg::Series> by_layer;
  for (const auto& [line, g] : grads) {
    reading(path + ": line " + std::to_string(line), [&, &g = g] {
      for (const auto& layer : g.at("layers")) {
        if (!layer.contains("weight_grad_norm")) continue;
        const int64_t index = layer.at("layer").get<int64_t>();
        auto& s = by_layer[index];
        if (s.name.empty()) {
          s.name = std::to_string(index) + " " + layer.at("type").get<std::string>();
          s.color = svg::series_color(by_layer.size() - 1);  // this layer is already in the map
        }
        s.x.push_back(g.at("step").get<double>());
        s.y.push_back(layer.at("weight_grad_norm").get<double>());
      }
    });
  }
  std::vector<svg::Series> series;
  for (auto& item : by_layer) series.push_back(item.second);
  svg::ChartOptions options;
  options.log_y = options.integer_x = true;
  return "<h2>Gradient flow</h2><div class='row'>" +
         html_figure(svg::line_chart("‖∂L/∂W‖ per layer", "step", series, options), "from grads.jsonl (log scale)") + "</div>\n";
}

std::string summary_table(const json& summary, const json* calibration, const Records& metrics, const fs::path& dir) {
  std::string rows = "<table>";
  const bool evidence = calibration != nullptr && has_evidence(*calibration);
  const std::string span = evidence ? "3" : "2";  // the columns right of the names
  if (evidence) {
    reading((dir / "calibration.json").string(), [&] { rows += evidence_rows(*calibration); });
  } else if (calibration != nullptr) {
    rows += "<tr><th></th><th>before T</th><th>after T</th></tr>";
    reading((dir / "calibration.json").string(), [&] {
    const json& before = calibration->at("test_before");
    const json& after = calibration->at("test_after");
    auto row = [&](const char* name, const char* key, const char* format) {
      rows += std::string("<tr><td>") + name + "</td><td>" + fmt(before.at(key), format) + "</td><td>" +
              fmt(after.at(key), format) + "</td></tr>";
    };
    row("test accuracy", "accuracy", "%.4f");
    row("NLL", "nll", "%.4f");
    row("ECE (15 bins)", "ece", "%.4f");
    row("MCE", "mce", "%.4f");
    row("Brier", "brier", "%.4f");
    const json& fit = calibration->at("fit");
    rows += "<tr><td>temperature T</td><td>" + fmt(calibration->at("raw_temperature"), "%.4g") + "</td><td>" +
            fmt(fit.at("temperature"), "%.4g") + (fit.at("bound").is_null() ? "" : " (at the " + fit.at("bound").get<std::string>() + " bound)") +
            "</td></tr>";
    });
  } else {
    // a run stopped before its end has no summary.json: its test figures were never measured,
    // which is not the same as 0
    reading((dir / "summary.json").string(), [&] {
      auto figure_of = [&](const char* key) {
        return summary.contains(key) && summary.at(key).is_number() ? fmt(summary.at(key).get<double>())
                                                                    : std::string("not evaluated");
      };
      rows += "<tr><td>test accuracy</td><td colspan='2'>" + figure_of("test_accuracy") +
              "</td></tr><tr><td>test loss</td><td colspan='2'>" + figure_of("test_loss") + "</td></tr>";
    });
  }
  if (summary.contains("train_seconds")) {
    reading((dir / "summary.json").string(), [&] {
      rows += "<tr><td>training time</td><td colspan='" + span + "'>" + fmt(summary.at("train_seconds").get<double>(), "%.1f s") +
              "</td></tr>";
    });
  } else {
    double seconds = 0;
    for (const auto& [line, m] : metrics) seconds += m.value("seconds", 0.0);
    rows += "<tr><td>training time</td><td colspan='" + span + "'>" + fmt(seconds, "%.1f s") + " in " +
            std::to_string(metrics.size()) + " logged epochs</td></tr>";
  }
  if (!fs::exists(dir / "summary.json")) {
    rows += "<tr><td>status</td><td colspan='" + span + "'>unfinished: no summary.json (interrupted, or still training)</td></tr>";
  }
  return rows + "</table>\n";
}

// Per true class (named as the checkpoint names them): its test samples and the share predicted right.
std::string class_table(const std::vector<std::vector<long long>>& confusion, const std::vector<std::string>& names) {
  std::string rows = "<table><tr><th>class</th><th>name</th><th>test samples</th><th>accuracy</th></tr>";
  for (size_t k = 0; k < confusion.size(); ++k) {
    long long total = 0;
    for (long long count : confusion[k]) total += count;
    const long long right = k < confusion[k].size() ? confusion[k][k] : 0;
    rows += "<tr><td>" + std::to_string(k) + "</td><td>" + svg::escape(k < names.size() ? names[k] : std::to_string(k)) +
            "</td><td>" + std::to_string(total) + "</td><td>" +
            (total > 0 ? fmt(static_cast<double>(right) / static_cast<double>(total)) : std::string("–")) + "</td></tr>";
  }
  return rows + "</table>\n";
}

// "ECE 0.0328 [0.0284, 0.0376]; a calibrated model: 0.0054 [0.0031, 0.0079], p = 0.001"
std::string ece_caption(const json& set, const char* ece_key, const json& estimators, const char* floor_key) {
  const json& source = std::string(ece_key) == "ece" ? set : estimators;
  // the equal-mass diagrams' caption names its figure: their ECE is the equal-mass one
  std::string text = std::string(std::string(ece_key) == "equal_mass_ece" ? "equal-mass ECE " : "ECE ") +
                     fmt(source.at(ece_key).get<double>());
  if (set.contains("intervals") && set.at("intervals").contains(ece_key)) {
    const json& i = set.at("intervals").at(ece_key);
    text += " [" + fmt(i.at(0).get<double>()) + ", " + fmt(i.at(1).get<double>()) + "]";
  }
  if (estimators.contains(floor_key)) {
    const json& f = estimators.at(floor_key);
    text += "; a calibrated model with these confidences: " + fmt(f.at("mean").get<double>()) + " [" +
            fmt(f.at("lower").get<double>()) + ", " + fmt(f.at("upper").get<double>()) + "], p = " +
            fmt(f.at("p_value").get<double>(), "%.3f");
  }
  return text;
}

// Reliability diagrams on equal-width and equal-mass bins, raw and calibrated, each bin with its
// consistency band.
std::string evidence_diagrams(const json& calibration) {
  const json& before = calibration.at("test_before");
  const json& after = calibration.at("test_after");
  const json& before_estimators = before.at("estimators");
  const json& after_estimators = after.at("estimators");
  const std::string label = method_label(calibration);
  const auto width_before = bins_of(before.at("bins"), before_estimators.contains("noise_floor") ? &before_estimators.at("noise_floor") : nullptr);
  const auto width_after = bins_of(after.at("bins"), after_estimators.contains("noise_floor") ? &after_estimators.at("noise_floor") : nullptr);
  const std::string band_note =
      "; grey boxes: where a calibrated model's accuracy would fall in 95% of test sets (the bin's consistency band)";
  std::string html =
      "<h3>Equal-width bins</h3><div class='row'>" +
      html_figure(svg::reliability_diagram("raw: " + std::to_string(width_before.size()) + " equal-width bins", width_before),
             ece_caption(before, "ece", before_estimators, "noise_floor") + ". Bars: accuracy per confidence bin, with its "
             "number of test samples above it; red: mean confidence above accuracy, yellow: below it" + band_note +
             "; bins of few samples are faded, empty bins marked 0") +
      html_figure(svg::reliability_diagram(label, width_after),
             ece_caption(after, "ece", after_estimators, "noise_floor") + ". The same predictions, calibrated") +
      html_figure(svg::confidence_histogram("confidence histogram", width_before, width_after, "raw", label),
             "samples per top-label confidence bin") +
      "</div>\n";
  if (before_estimators.contains("equal_mass_bins") && after_estimators.contains("equal_mass_bins")) {
    const auto mass_before = bins_of(before_estimators.at("equal_mass_bins"),
                                     before_estimators.contains("equal_mass_noise_floor") ? &before_estimators.at("equal_mass_noise_floor") : nullptr);
    const auto mass_after = bins_of(after_estimators.at("equal_mass_bins"),
                                    after_estimators.contains("equal_mass_noise_floor") ? &after_estimators.at("equal_mass_noise_floor") : nullptr);
    html += "<h3>Equal-mass bins</h3><div class='row'>" +
            html_figure(svg::reliability_diagram("raw: " + std::to_string(mass_before.size()) + " equal-mass bins", mass_before, true),
                   ece_caption(before, "equal_mass_ece", before_estimators, "equal_mass_noise_floor") +
                   ". Each bin holds the same share of the test samples, ranked by confidence, and is drawn that wide; "
                   "dashed: its mean confidence, where a calibrated bin's accuracy would be" + band_note +
                   "; the accuracy axis starts below the lowest value shown") +
            html_figure(svg::reliability_diagram(label + ", equal-mass", mass_after, true),
                   ece_caption(after, "equal_mass_ece", after_estimators, "equal_mass_noise_floor") +
                   ". Bins fixed by the calibrated confidences") +
            "</div>\n";
  }
  return html;
}

std::string calibration_section(const json& calibration, const std::vector<std::string>& class_names) {
  std::vector<std::vector<long long>> confusion;
  for (const auto& row : calibration.at("confusion")) confusion.push_back(row.get<std::vector<long long>>());
  const std::string tail =
      "</div><h2>Confusion matrix (test split)</h2><div class='row'>" +
      html_figure(svg::heat_map("true class vs predicted class", "true class", "predicted class", confusion, class_names),
             !calibration.contains("method") || calibration.at("method") == "temperature" || calibration.at("method") == "none"
                 ? "counts; temperature scaling never changes a prediction"
                 : "counts, of the calibrated predictions (" + calibration.at("method").get<std::string>() +
                       " may change a prediction)") +
      "</div><h2>Per class (test split)</h2>" + class_table(confusion, class_names);
  if (has_evidence(calibration)) {
    return "<h2>Calibration (test split)</h2>" + evidence_diagrams(calibration) + "<div>" + tail;
  }
  const auto before = bins_of(calibration.at("test_before").at("bins"));
  const auto after = bins_of(calibration.at("test_after").at("bins"));
  const double t = calibration.at("fit").at("temperature");
  return "<h2>Calibration (test split)</h2><div class='row'>" +
         html_figure(svg::reliability_diagram("reliability before T (ECE " + fmt(calibration.at("test_before").at("ece")) + ")", before),
                "bars: accuracy per confidence bin, with its number of test samples above it; red: mean confidence "
                "above accuracy, yellow: below it; bins of few samples are faded") +
         html_figure(svg::reliability_diagram("reliability after T = " + fmt(t, "%.3f") + " (ECE " +
                                             fmt(calibration.at("test_after").at("ece")) + ")",
                                         after),
                "the same predictions, probabilities softmax(z / T)") +
         html_figure(svg::confidence_histogram("confidence histogram", before, after), "samples per top-label confidence bin") +
         tail;
}

// The class names stored in the run's model.safetensors (the indices for an older checkpoint);
// empty when there is no checkpoint yet.
std::vector<std::string> class_names(const fs::path& dir) {
  const fs::path model = dir / "model.safetensors";
  if (!fs::exists(model)) return {};
  return load_checkpoint(model.string()).data.class_names;
}

// What the calibration section says when there is no calibration.json.
std::string no_calibration(const fs::path& dir) {
  if (!fs::exists(dir / "model.safetensors")) {
    const fs::path last = dir / "last.safetensors";
    return "<h2>Calibration (test split)</h2><p>Not evaluated: the run has no model.safetensors (interrupted, or "
           "still training)." +
           (fs::exists(last) ? " <code>gradflow train --resume " + svg::escape(last.string()) + "</code> finishes it."
                             : std::string()) +
           "</p>\n";
  }
  return "<p>No calibration.json: run <code>gradflow calibrate</code>.</p>";
}

}  // namespace

JsonlRecords read_jsonl(const std::string& path) {
  JsonlRecords lines;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    json j = json_check::parse(line, path + ": line " + std::to_string(number), false);
    if (j.is_discarded()) throw InputError(path + ": line " + std::to_string(number) + " is not valid JSON");
    lines.emplace_back(number, std::move(j));
  }
  return lines;
}

std::string html_figure(const std::string& svg_text, const std::string& caption) {
  return "<figure>" + svg_text + "<figcaption>" + svg::escape(caption) + "</figcaption></figure>\n";
}

std::string html_page(const std::string& title, const std::string& body) {
  // the <title> is the heading without its markup
  std::string plain;
  bool in_tag = false;
  for (char c : title) {
    if (c == '<') in_tag = true;
    if (!in_tag) plain += c;
    if (c == '>') in_tag = false;
  }
  return "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" + plain +
         "</title>\n<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1500px}"
         "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
         ".row{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555;max-width:460px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
         "td:first-child{text-align:left}td.verdict,td.text{text-align:left;font-size:13px}.interval{font-size:11px;color:#666;white-space:nowrap}"
         "td.note{text-align:left;font-size:12px;color:#555;max-width:900px}th{white-space:nowrap}"
         "h3{font-size:14px;margin:14px 0 6px}code{background:#f4f4f4;padding:1px 4px}</style></head><body>\n"
         "<h1>" + title + "</h1>\n" + body + "</body></html>\n";
}

std::string write_report(const std::string& run_dir) {
  const fs::path dir(run_dir);
  const std::string metrics_path = (dir / "metrics.jsonl").string();
  if (!fs::exists(metrics_path)) throw InputError(metrics_path + ": missing; is " + run_dir + " a gradflow run directory?");
  const json config = load_json_file((dir / "config.json").string());
  const Records metrics = read_jsonl(metrics_path);
  const json summary = fs::exists(dir / "summary.json") ? load_json_file((dir / "summary.json").string()) : json::object();
  const bool has_calibration = fs::exists(dir / "calibration.json");
  const json calibration = has_calibration ? load_json_file((dir / "calibration.json").string()) : json();
  const std::string grads_path = (dir / "grads.jsonl").string();
  const Records grads = fs::exists(grads_path) ? read_jsonl(grads_path) : Records{};
  const std::string config_path = (dir / "config.json").string(), calibration_path = (dir / "calibration.json").string();

  std::string layers, name;
  int64_t batch_size = 0;
  reading(config_path, [&] {
    if (config.contains("model")) {
      layers = std::to_string(config["model"].value("input", 0));
      for (const auto& l : config["model"].value("layers", json::array())) {
        layers += " → " + l.value("type", std::string("?")) + (l.contains("units") ? " " + l["units"].dump() : "");
      }
    }
    name = config.value("name", std::string("run"));
    batch_size = config.value("training", json::object()).value("batch_size", int64_t(0));
  });
  const std::string calibration_html =
      has_calibration ? reading(calibration_path, [&] { return calibration_section(calibration, class_names(dir)); })
                      : no_calibration(dir);
  const std::string title = "gradflow run <code>" + svg::escape(name) + "</code>";
  const std::string body =
      "<p>model: " + svg::escape(layers) + " · " + std::to_string(metrics.size()) + " epochs · batch " +
      std::to_string(batch_size) + "</p>\n<h2>Summary</h2>" +
      summary_table(summary, has_calibration ? &calibration : nullptr, metrics, dir) + training_curves(metrics, metrics_path) +
      calibration_html + gradient_norms(grads, grads_path) +
      // a step page recorded here (gradflow step --html RUN/step.html), linked, not embedded
      (fs::exists(dir / "step.html") ? "<p><a href='step.html'>One training step, stage by stage</a> (step.html)</p>" : "");
  const std::string html = html_page(title, body);
  const std::string path = (dir / "report.html").string();
  write_file_atomic(path, html);
  return path;
}

}  // namespace gradflow
