#pragma once
// The stages of a StepTrace as text pages for a terminal: the image and the saliency drawn as
// rows × cols shading (the data's shape), the softmax as a bar chart over the named classes,
// every number the trace holds.
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
};

std::vector<Page> step_pages(const StepTrace& trace, const ViewOptions& options);

}  // namespace gradflow::cli
