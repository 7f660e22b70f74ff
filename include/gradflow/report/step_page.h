#pragma once
// The step explorer: one self-contained HTML page (inline JS and canvas, no network) that walks
// the stages of recorded training steps with buttons and the keyboard. Its data is an array of
// step traces, each StepTrace::to_json(true), in <script type="application/json" id="trace">;
// every number the page shows is read from there.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gradflow {

struct StepPageContext {
  int64_t image_rows = 0, image_cols = 0;  // the input drawn as an image of this shape; 0: as a strip
  std::vector<std::string> class_names;
  std::string command;  // how the page was made, shown in its header
};

// Largest side of a weight-sized heatmap kept in the page. A larger (R, C) tensor is pooled
// by max |value| over blocks of ceil(R/side) × ceil(C/side); each pooled cell keeps the signed
// value and the flat index of the entry it came from.
constexpr int64_t kStepPageMaxSide = 256;

// The page's copy of a trace: values of 2-D parameter-sized tensors (gradients, the update's
// before/after as "change", optimizer state) with a side above kStepPageMaxSide are replaced by
// their pooled form {"factor", "shape", "values", "at"}; everything else is kept as it is.
nlohmann::json step_page_trace(nlohmann::json trace);

std::string step_page_html(const std::vector<nlohmann::json>& page_traces, const StepPageContext& context);

// Writes the page atomically; InputError when the path cannot be written.
void write_step_page(const std::string& path, const std::vector<nlohmann::json>& page_traces,
                     const StepPageContext& context);

}  // namespace gradflow
