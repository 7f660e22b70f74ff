#pragma once
// The stages of a StepTrace as text pages for a terminal: the digit and the saliency drawn as
// 28x28 shading, the softmax as a bar chart, every number the trace holds.
#include <vector>

#include "gradflow/stepper.h"
#include "terminal_pager.h"

namespace gradflow::cli {

struct ViewOptions {
  bool color = false;         // ANSI colours (sign of the saliency)
  int64_t max_samples = 4;    // samples drawn in full per stage
};

std::vector<Page> step_pages(const StepTrace& trace, const ViewOptions& options);

}  // namespace gradflow::cli
