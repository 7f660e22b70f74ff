#include "gradflow/report/step_page.h"

#include <charconv>
#include <cmath>

#include "gradflow/files.h"

namespace gradflow {

extern const char* const kStepPageTemplate;  // src/report/step_page.html, embedded at build time

using nlohmann::json;

namespace {

// Max-|value| pooling of a (rows, cols) row-major tensor to at most kStepPageMaxSide a side.
json pooled(const std::vector<float>& values, int64_t rows, int64_t cols) {
  const int64_t fr = (rows + kStepPageMaxSide - 1) / kStepPageMaxSide, fc = (cols + kStepPageMaxSide - 1) / kStepPageMaxSide;
  const int64_t pr = (rows + fr - 1) / fr, pc = (cols + fc - 1) / fc;
  std::vector<float> out(static_cast<size_t>(pr * pc), 0.0f);
  std::vector<int64_t> at(static_cast<size_t>(pr * pc), -1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t index = r * cols + c;
      const size_t cell = static_cast<size_t>((r / fr) * pc + c / fc);
      const float v = values[static_cast<size_t>(index)];
      if (at[cell] < 0 || std::fabs(v) > std::fabs(out[cell])) {
        out[cell] = v;
        at[cell] = index;
      }
    }
  }
  return {{"factor", {fr, fc}}, {"shape", {pr, pc}}, {"values", out}, {"at", at}};
}

bool too_large(const json& shape) {
  return shape.is_array() && shape.size() == 2 &&
         (shape[0].get<int64_t>() > kStepPageMaxSide || shape[1].get<int64_t>() > kStepPageMaxSide);
}

// A summary {"shape", "values", ...} whose values are too many: pooled instead.
void pool_summary(json& summary) {
  if (!summary.contains("values") || !too_large(summary["shape"])) return;
  summary["pooled"] = pooled(summary["values"].get<std::vector<float>>(), summary["shape"][0], summary["shape"][1]);
  summary.erase("values");
}

// Every float in the trace came from a float: print it with a float's shortest digits (about
// half the characters of a double's), which read back as the same float.
void shorten_numbers(json& j) {
  if (j.is_number_float()) {
    char buffer[32];
    const auto value = static_cast<float>(j.get<double>());
    if (!std::isfinite(value) || static_cast<double>(value) != j.get<double>()) return;  // a double: keep it
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    j = std::strtod(std::string(buffer, end).c_str(), nullptr);
  } else if (j.is_structured()) {
    for (auto& element : j) shorten_numbers(element);
  }
}

std::string script_safe(std::string text) {
  // "</" cannot appear inside a <script> element; in JSON it can only be inside a string
  for (size_t at = text.find("</"); at != std::string::npos; at = text.find("</", at + 3)) text.replace(at, 2, "<\\/");
  return text;
}

void replace(std::string& text, const std::string& marker, const std::string& with) {
  const size_t at = text.find(marker);
  if (at != std::string::npos) text.replace(at, marker.size(), with);
}

}  // namespace

json step_page_trace(json trace) {
  for (auto& stage : trace["backward"]) {
    if (!stage.contains("parameters")) continue;
    for (auto& [name, gradient] : stage["parameters"].items()) pool_summary(gradient);
  }
  for (auto& update : trace["update"]["parameters"]) {
    if (!update.contains("before") || !too_large(update["shape"])) continue;
    const auto before = update["before"].get<std::vector<float>>(), after = update["after"].get<std::vector<float>>();
    std::vector<float> change(before.size());
    for (size_t i = 0; i < change.size(); ++i) change[i] = after[i] - before[i];
    update["change"] = pooled(change, update["shape"][0], update["shape"][1]);
    update.erase("before");
    update.erase("after");
    if (update.contains("state")) {
      for (auto& [name, state] : update["state"].items()) {
        state["shape"] = update["shape"];
        pool_summary(state);
      }
    }
  }
  shorten_numbers(trace);
  return trace;
}

std::string step_page_html(const std::vector<json>& page_traces, const StepPageContext& context) {
  const json described{{"image", {{"rows", context.image_rows}, {"cols", context.image_cols}}},
                       {"class_names", context.class_names},
                       {"command", context.command},
                       {"max_side", kStepPageMaxSide}};
  std::string page = kStepPageTemplate;
  replace(page, "{{CONTEXT}}", script_safe(described.dump()));
  replace(page, "{{TRACE}}", script_safe(json(page_traces).dump()));
  return page;
}

void write_step_page(const std::string& path, const std::vector<json>& page_traces, const StepPageContext& context) {
  write_file_atomic(path, step_page_html(page_traces, context));
}

}  // namespace gradflow
