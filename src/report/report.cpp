#include "gradflow/report/report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

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

// The records of a JSON Lines file, each with its line number.
using Records = std::vector<std::pair<int, json>>;

Records read_jsonl(const std::string& path) {
  Records lines;
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

std::string fmt(double v, const char* format = "%.4f") {
  char b[48];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::vector<svg::Bin> bins_of(const json& metrics) {
  std::vector<svg::Bin> bins;
  for (const auto& b : metrics.at("bins")) {
    bins.push_back({b.at("lower").get<double>(), b.at("upper").get<double>(), b.at("confidence").get<double>(),
                    b.at("accuracy").get<double>(), b.at("count").get<long long>()});
  }
  return bins;
}

std::string figure(const std::string& svg_text, const std::string& caption) {
  return "<figure>" + svg_text + "<figcaption>" + svg::escape(caption) + "</figcaption></figure>\n";
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
         figure(svg::line_chart("loss per epoch", "epoch", {train_loss, val_loss}, per_epoch_log),
                "mean cross-entropy (log scale)") +
         figure(svg::line_chart("accuracy per epoch", "epoch", {train_acc, val_acc}, per_epoch_fraction),
                "share of samples classified correctly") +
         figure(svg::line_chart("learning rate", "epoch", {lr}, per_epoch), "at the last step of each epoch") + "</div>\n";
}

std::string gradient_norms(const Records& grads, const std::string& path) {
  if (grads.empty()) return "";
  static const char* colors[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac"};
  std::map<int64_t, svg::Series> by_layer;
  for (const auto& [line, g] : grads) {
    reading(path + ": line " + std::to_string(line), [&, &g = g] {
      for (const auto& layer : g.at("layers")) {
        if (!layer.contains("weight_grad_norm")) continue;
        const int64_t index = layer.at("layer").get<int64_t>();
        auto& s = by_layer[index];
        if (s.name.empty()) {
          s.name = std::to_string(index) + " " + layer.at("type").get<std::string>();
          s.color = colors[(by_layer.size() - 1) % 8];  // this layer is already in the map
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
         figure(svg::line_chart("‖∂L/∂W‖ per layer", "step", series, options), "from grads.jsonl (log scale)") + "</div>\n";
}

std::string summary_table(const json& summary, const json* calibration, const Records& metrics, const fs::path& dir) {
  std::string rows = "<table>";
  if (calibration != nullptr) {
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
        return summary.contains(key) ? fmt(summary.at(key).get<double>()) : std::string("not evaluated");
      };
      rows += "<tr><td>test accuracy</td><td colspan='2'>" + figure_of("test_accuracy") +
              "</td></tr><tr><td>test loss</td><td colspan='2'>" + figure_of("test_loss") + "</td></tr>";
    });
  }
  if (summary.contains("train_seconds")) {
    reading((dir / "summary.json").string(), [&] {
      rows += "<tr><td>training time</td><td colspan='2'>" + fmt(summary.at("train_seconds").get<double>(), "%.1f s") +
              "</td></tr>";
    });
  } else {
    double seconds = 0;
    for (const auto& [line, m] : metrics) seconds += m.value("seconds", 0.0);
    rows += "<tr><td>training time</td><td colspan='2'>" + fmt(seconds, "%.1f s") + " in " +
            std::to_string(metrics.size()) + " logged epochs</td></tr>";
  }
  if (!fs::exists(dir / "summary.json")) {
    rows += "<tr><td>status</td><td colspan='2'>unfinished: no summary.json (interrupted, or still training)</td></tr>";
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

std::string calibration_section(const json& calibration, const std::vector<std::string>& class_names) {
  const auto before = bins_of(calibration.at("test_before"));
  const auto after = bins_of(calibration.at("test_after"));
  const double t = calibration.at("fit").at("temperature");
  std::vector<std::vector<long long>> confusion;
  for (const auto& row : calibration.at("confusion")) confusion.push_back(row.get<std::vector<long long>>());
  return "<h2>Calibration (test split)</h2><div class='row'>" +
         figure(svg::reliability_diagram("reliability before T (ECE " + fmt(calibration.at("test_before").at("ece")) + ")", before),
                "bars: accuracy per confidence bin, with its number of test samples above it; red: mean confidence "
                "above accuracy, yellow: below it; bins of few samples are faded") +
         figure(svg::reliability_diagram("reliability after T = " + fmt(t, "%.3f") + " (ECE " +
                                             fmt(calibration.at("test_after").at("ece")) + ")",
                                         after),
                "the same predictions, probabilities softmax(z / T)") +
         figure(svg::confidence_histogram("confidence histogram", before, after), "samples per top-label confidence bin") +
         "</div><h2>Confusion matrix (test split)</h2><div class='row'>" +
         figure(svg::heat_map("true class vs predicted class", "true class", "predicted class", confusion, class_names),
                "counts; temperature scaling never changes a prediction") +
         "</div><h2>Per class (test split)</h2>" + class_table(confusion, class_names);
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
  std::string html =
      "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>gradflow run " + svg::escape(name) +
      "</title>\n<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1500px}"
      "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
      ".row{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555;max-width:460px}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
      "td:first-child{text-align:left}code{background:#f4f4f4;padding:1px 4px}</style></head><body>\n"
      "<h1>gradflow run <code>" + svg::escape(name) + "</code></h1>\n<p>model: " + svg::escape(layers) + " · " +
      std::to_string(metrics.size()) + " epochs · batch " +
      std::to_string(batch_size) + "</p>\n<h2>Summary</h2>" +
      summary_table(summary, has_calibration ? &calibration : nullptr, metrics, dir) + training_curves(metrics, metrics_path) +
      calibration_html + gradient_norms(grads, grads_path) +
      // a step page recorded here (gradflow step --html RUN/step.html), linked, not embedded
      (fs::exists(dir / "step.html") ? "<p><a href='step.html'>One training step, stage by stage</a> (step.html)</p>" : "") +
      "</body></html>\n";
  const std::string path = (dir / "report.html").string();
  write_file_atomic(path, html);
  return path;
}

}  // namespace gradflow
