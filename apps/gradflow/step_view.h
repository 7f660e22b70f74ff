#pragma once
// The stages of a StepTrace as text pages for a terminal: the image and the saliency drawn as
// rows × cols shading (the data's shape), the softmax as a bar chart over the named classes,
// every number the trace holds, every line at most `width` columns.
#include <string>
#include <vector>

#include "gradflow/stepper.h"
#include "terminal_pager.h"

namespace gradflow::cli {

struct ViewOptions {
  bool color = false;         // ANSI colours (sign of the saliency)
  int64_t max_samples = 4;    // samples drawn in full per stage
  int64_t rows = 0, cols = 0;  // one image's shape; 0: not drawn (the trace's features must be rows * cols)
  std::vector<std::string> class_names;  // empty: the indices
  int64_t width = 80;         // columns: every line fits (laid out to it, or cut)
};

std::vector<Page> step_pages(const StepTrace& trace, const ViewOptions& options);
// How loss, ŷ_y, ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ moved over consecutive steps (`first`: the first one's trace).
Page steps_page(const std::vector<StepSummary>& steps, const StepTrace& first, const ViewOptions& options);

}  // namespace gradflow::cli
