#include "gradflow/sweep/table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "gradflow/files.h"
#include "gradflow/report/report.h"
#include "gradflow/report/svg.h"

namespace gradflow::sweep {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// an unknown figure is an empty field (CSV) or cell
std::string figure(double value, const char* format) { return figure_text(value, format, ""); }

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string SweepRow::status_text() const {
  if (status == RunStatus::failed) return "failed (exit " + std::to_string(exit_code) + ")";
  return to_string(status);
}

std::vector<SweepRow> collect_rows(const SweepPlan& plan) {
  std::vector<SweepRow> rows;
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const RunSpec& run = plan.runs[i];
    const std::string dir = plan.run_dir(run);
    SweepRow row;
    row.index = i;
    row.name = run.name;
    row.values = run.values;
    row.status = detect_status(dir);
    if (row.status == RunStatus::failed) row.exit_code = recorded_failure(dir);
    if (fs::exists(fs::path(dir) / "config.json") && fs::exists(fs::path(dir) / "metrics.jsonl")) {
      const RunRecord record = read_run(dir);
      row.metrics = final_metrics(record);
      for (const auto& epoch : record.epochs) {
        if (epoch.contains("epoch") && epoch.contains("validation_accuracy") && epoch.at("validation_accuracy").is_number()) {
          row.validation_accuracy.emplace_back(epoch.at("epoch").get<double>(), epoch.at("validation_accuracy").get<double>());
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void sort_rows(std::vector<SweepRow>& rows) {
  std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) {
    const double x = a.metrics.validation_accuracy, y = b.metrics.validation_accuracy;
    if (std::isnan(x) != std::isnan(y)) return !std::isnan(x);  // a known figure first
    if (!std::isnan(x) && x != y) return x > y;
    return a.index < b.index;
  });
}

std::string rows_csv(const SweepPlan& plan, const std::vector<SweepRow>& rows) {
  std::string text = "run";
  for (const auto& axis : plan.grid.axes) text += "," + csv_field(axis.path);
  text += ",status,validation_accuracy,validation_loss,test_accuracy,epochs,train_seconds\n";
  for (const auto& row : rows) {
    text += csv_field(row.name);
    for (const auto& value : row.values) text += "," + csv_field(value_text(value));
    const FinalMetrics& m = row.metrics;
    text += "," + csv_field(row.status_text()) + "," + figure(m.validation_accuracy, "%.6g") + "," +
            figure(m.validation_loss, "%.6g") + "," + figure(m.test_accuracy, "%.6g") + "," +
            (m.epochs > 0 || m.finished ? std::to_string(m.epochs) : std::string()) + "," +
            figure(m.train_seconds, "%.3f") + "\n";
  }
  return text;
}

json rows_json(const SweepPlan& plan, const std::vector<SweepRow>& rows) {
  json list = json::array();
  for (const auto& row : rows) {
    json values = json::object();
    for (size_t a = 0; a < plan.grid.axes.size(); ++a) values[plan.grid.axes[a].path] = row.values[a];
    json entry = row.metrics.to_json();
    entry.erase("finished");
    entry["run"] = row.name;
    entry["run_dir"] = plan.run_dir(plan.runs[row.index]);
    entry["values"] = values;
    entry["status"] = to_string(row.status);
    if (row.status == RunStatus::failed) entry["exit_code"] = row.exit_code;
    list.push_back(entry);
  }
  return {{"sweep", plan.name}, {"dir", plan.dir}, {"runs", list}};
}

std::string rows_text(const std::vector<SweepRow>& rows, size_t width) {
  struct Column {
    std::string title;
    size_t width;
    bool left;
    std::vector<std::string> cells;
  };
  std::vector<Column> columns{{"run", 3, true, {}},          {"status", 6, true, {}},    {"val acc", 7, false, {}},
                              {"val loss", 8, false, {}},    {"test acc", 8, false, {}}, {"epochs", 6, false, {}},
                              {"seconds", 7, false, {}}};
  for (const auto& row : rows) {
    const FinalMetrics& m = row.metrics;
    const std::string cells[] = {row.name,
                                 row.status_text(),
                                 figure(100 * m.validation_accuracy, "%.2f%%"),
                                 figure(m.validation_loss, "%.4f"),
                                 figure(100 * m.test_accuracy, "%.2f%%"),
                                 m.epochs > 0 || m.finished ? std::to_string(m.epochs) : std::string(),
                                 figure(m.train_seconds, "%.1f")};
    for (size_t c = 0; c < columns.size(); ++c) {
      columns[c].cells.push_back(cells[c].empty() ? "–" : cells[c]);
      // "–" is one column wide but three bytes: count characters, not bytes
      const size_t shown = cells[c].empty() ? 1 : cells[c].size();
      columns[c].width = std::max(columns[c].width, shown);
    }
  }
  auto total = [&] {
    size_t sum = 0;
    for (const auto& c : columns) sum += c.width + 2;
    return sum - 2;
  };
  for (const char* drop : {"val loss", "seconds", "epochs"}) {
    if (total() <= width) break;
    columns.erase(std::find_if(columns.begin(), columns.end(), [&](const Column& c) { return c.title == drop; }));
  }
  auto pad = [](const std::string& text, size_t w, bool left) {
    const size_t shown = text == "–" ? 1 : text.size();
    const std::string space(w > shown ? w - shown : 0, ' ');
    return left ? text + space : space + text;
  };
  std::string text;
  for (size_t c = 0; c < columns.size(); ++c) {
    text += (c ? "  " : "") + pad(columns[c].title, columns[c].width, columns[c].left);
  }
  text += "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t c = 0; c < columns.size(); ++c) {
      line += (c ? "  " : "") + pad(columns[c].cells[r], columns[c].width, columns[c].left);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  return text;
}

std::string sweep_page(const SweepPlan& plan, const std::vector<SweepRow>& rows) {
  std::string body = "<p>config <code>" + svg::escape(plan.config_file) + "</code> · grid <code>" +
                     svg::escape(plan.grid_file) + "</code> · " + std::to_string(rows.size()) +
                     " runs, best validation accuracy first</p>\n<table><tr><th>run</th>";
  for (const auto& axis : plan.grid.axes) body += "<th><code>" + svg::escape(axis.path) + "</code></th>";
  body += "<th>status</th><th>validation accuracy</th><th>validation loss</th><th>test accuracy</th><th>epochs</th>"
          "<th>training time</th></tr>";
  std::vector<svg::Series> curves;
  for (size_t r = 0; r < rows.size(); ++r) {
    const SweepRow& row = rows[r];
    const FinalMetrics& m = row.metrics;
    const std::string color = svg::series_color(r);
    // the run's own report, when it has one
    const std::string link = fs::exists(fs::path(plan.run_dir(plan.runs[row.index])) / "report.html")
                                 ? "<a href='" + svg::escape(row.name) + "/report.html'>" + svg::escape(row.name) + "</a>"
                                 : svg::escape(row.name);
    body += "<tr><td><span style='color:" + color + "'>■</span> " + link + "</td>";
    for (const auto& value : row.values) body += "<td>" + svg::escape(value_text(value)) + "</td>";
    auto cell = [](const std::string& text) { return "<td>" + (text.empty() ? std::string("–") : text) + "</td>"; };
    body += "<td>" + svg::escape(row.status_text()) + "</td>" + cell(figure(m.validation_accuracy, "%.4f")) +
            cell(figure(m.validation_loss, "%.4f")) + cell(figure(m.test_accuracy, "%.4f")) +
            cell(m.epochs > 0 ? std::to_string(m.epochs) : std::string()) + cell(figure(m.train_seconds, "%.1f s")) +
            "</tr>";
    svg::Series s{row.name, color, {}, {}};
    for (const auto& [epoch, accuracy] : row.validation_accuracy) {
      s.x.push_back(epoch);
      s.y.push_back(accuracy);
    }
    curves.push_back(std::move(s));
  }
  body += "</table>\n";
  svg::ChartOptions options;
  options.integer_x = options.fraction_y = true;
  body += "<h2>Validation accuracy per epoch</h2><div class='row'>" +
          html_figure(svg::line_chart("validation accuracy per epoch", "epoch", curves, options),
                      "every run of the sweep, from its metrics.jsonl") +
          "</div>\n";
  return html_page("gradflow sweep <code>" + svg::escape(plan.name) + "</code>", body);
}

void write_tables(const SweepPlan& plan, const std::vector<SweepRow>& rows) {
  write_file_atomic((fs::path(plan.dir) / "sweep.csv").string(), rows_csv(plan, rows));
  write_file_atomic((fs::path(plan.dir) / "sweep.html").string(), sweep_page(plan, rows));
}

}  // namespace gradflow::sweep
