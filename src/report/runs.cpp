#include "gradflow/report/runs.h"

#include <filesystem>
#include <map>
#include <set>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/report/report.h"
#include "gradflow/report/svg.h"

namespace gradflow {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double number_or_nan(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object.at(key).is_number() ? object.at(key).get<double>() : NAN;
}

json number_or_null(double value) { return std::isnan(value) ? json() : json(value); }

// One series per run of `key` per epoch, each run in its own colour.
std::vector<svg::Series> per_epoch(const std::vector<RunRecord>& runs, const std::vector<std::string>& labels,
                                   const char* key) {
  std::vector<svg::Series> series;
  for (size_t i = 0; i < runs.size(); ++i) {
    svg::Series s{labels[i], svg::series_color(i), {}, {}};
    for (const auto& epoch : runs[i].epochs) {
      const double e = number_or_nan(epoch, "epoch"), y = number_or_nan(epoch, key);
      if (std::isnan(e) || std::isnan(y)) continue;
      s.x.push_back(e);
      s.y.push_back(y);
    }
    series.push_back(std::move(s));
  }
  return series;
}

}  // namespace

RunRecord read_run(const std::string& dir) {
  const fs::path path(dir);
  if (!fs::is_directory(path)) throw InputError(dir + ": not a directory");
  if (!fs::exists(path / "config.json") || !fs::exists(path / "metrics.jsonl")) {
    throw InputError(dir + ": not a gradflow run directory (no " +
                     (fs::exists(path / "config.json") ? "metrics.jsonl" : "config.json") + ")");
  }
  RunRecord run;
  run.dir = dir;
  run.config = load_json_file((path / "config.json").string());
  if (fs::exists(path / "summary.json")) run.summary = load_json_file((path / "summary.json").string());
  for (auto& [line, record] : read_jsonl((path / "metrics.jsonl").string())) run.epochs.push_back(std::move(record));
  return run;
}

std::string figure_text(double value, const char* format, const char* unknown) {
  if (std::isnan(value)) return unknown;
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

json FinalMetrics::to_json() const {
  return {{"finished", finished},
          {"epochs", epochs},
          {"validation_accuracy", number_or_null(validation_accuracy)},
          {"validation_loss", number_or_null(validation_loss)},
          {"test_accuracy", number_or_null(test_accuracy)},
          {"train_seconds", number_or_null(train_seconds)}};
}

FinalMetrics final_metrics(const RunRecord& run) {
  FinalMetrics m;
  m.finished = run.finished();
  const json last = run.epochs.empty() ? json::object() : run.epochs.back();
  const json& source = m.finished ? run.summary : last;
  m.validation_accuracy = number_or_nan(source, "validation_accuracy");
  m.validation_loss = number_or_nan(source, "validation_loss");
  m.epochs = m.finished ? static_cast<int64_t>(number_or_nan(run.summary, "epochs"))
                        : static_cast<int64_t>(run.epochs.size());
  if (m.finished) {
    m.test_accuracy = number_or_nan(run.summary, "test_accuracy");
    m.train_seconds = number_or_nan(run.summary, "train_seconds");
  } else {
    double seconds = 0;
    for (const auto& epoch : run.epochs) seconds += epoch.is_object() ? epoch.value("seconds", 0.0) : 0.0;
    m.train_seconds = seconds;
  }
  return m;
}

std::vector<ConfigDifference> config_differences(const std::vector<json>& configs) {
  std::vector<json> flat;
  std::set<std::string> paths;
  for (const auto& config : configs) {
    flat.push_back(config.flatten());
    for (const auto& item : flat.back().items()) paths.insert(item.key());
  }
  std::vector<ConfigDifference> differences;
  for (const auto& path : paths) {  // sorted: a path's keys read in order
    ConfigDifference d{path, {}};
    for (const auto& f : flat) d.values.push_back(f.contains(path) ? f.at(path) : json());
    bool same = true;
    for (const auto& v : d.values) same = same && v == d.values.front();
    if (!same) differences.push_back(std::move(d));
  }
  return differences;
}

std::vector<std::string> run_labels(const std::vector<RunRecord>& runs) {
  std::vector<std::string> labels;
  std::map<std::string, int> uses;
  for (const auto& run : runs) {
    fs::path p = fs::path(run.dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();  // "runs/a/"
    std::string label = p.filename().string();
    if (label.empty() || label == ".") label = fs::absolute(p).lexically_normal().filename().string();
    labels.push_back(label);
    ++uses[label];
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (uses[labels[i]] > 1) labels[i] = runs[i].dir;
  }
  return labels;
}

std::string compare_page(const std::vector<RunRecord>& runs) {
  const auto labels = run_labels(runs);
  std::string body = "<h2>Runs</h2><table><tr><th>run</th><th>directory</th><th>status</th><th>epochs</th>"
                     "<th>validation accuracy</th><th>validation loss</th><th>test accuracy</th><th>training time</th></tr>";
  for (size_t i = 0; i < runs.size(); ++i) {
    const FinalMetrics m = final_metrics(runs[i]);
    body += "<tr><td><span style='color:" + svg::series_color(i) + "'>■</span> " + svg::escape(labels[i]) + "</td><td>" +
            svg::escape(runs[i].dir) + "</td><td>" + (m.finished ? "finished" : "unfinished (last logged epoch)") +
            "</td><td>" + std::to_string(m.epochs) + "</td><td>" + figure_text(m.validation_accuracy, "%.4f") + "</td><td>" +
            figure_text(m.validation_loss, "%.4f") + "</td><td>" + figure_text(m.test_accuracy, "%.4f") + "</td><td>" +
            figure_text(m.train_seconds, "%.1f s") + "</td></tr>";
  }
  body += "</table>\n<h2>Config differences</h2>";
  std::vector<json> configs;
  for (const auto& run : runs) configs.push_back(run.config);
  const auto differences = config_differences(configs);
  if (differences.empty()) {
    body += "<p>The configs are the same.</p>\n";
  } else {
    body += "<table><tr><th>JSON path</th>";
    for (const auto& label : labels) body += "<th>" + svg::escape(label) + "</th>";
    body += "</tr>";
    for (const auto& d : differences) {
      body += "<tr><td><code>" + svg::escape(d.path) + "</code></td>";
      for (const auto& v : d.values) body += "<td>" + (v.is_null() ? std::string("(absent)") : svg::escape(v.dump())) + "</td>";
      body += "</tr>";
    }
    body += "</table>\n";
  }
  svg::ChartOptions log_loss, accuracy;
  log_loss.integer_x = accuracy.integer_x = true;
  log_loss.log_y = true;
  accuracy.fraction_y = true;
  body += "<h2>Training curves</h2><div class='row'>" +
          html_figure(svg::line_chart("train loss per epoch", "epoch", per_epoch(runs, labels, "train_loss"), log_loss),
                 "mean cross-entropy on the training split (log scale)") +
          html_figure(svg::line_chart("validation loss per epoch", "epoch", per_epoch(runs, labels, "validation_loss"), log_loss),
                 "mean cross-entropy on the validation split (log scale)") +
          html_figure(svg::line_chart("validation accuracy per epoch", "epoch",
                                 per_epoch(runs, labels, "validation_accuracy"), accuracy),
                 "share of validation samples classified correctly") +
          "</div>\n";
  return html_page("gradflow compare: " + std::to_string(runs.size()) + " runs", body);
}

}  // namespace gradflow
