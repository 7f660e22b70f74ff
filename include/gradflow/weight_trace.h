#pragma once
// One entry of one parameter followed through a training step (gradflow step --weight).
#include <string>
#include <vector>

#include "gradflow/model.h"

namespace gradflow {

// One entry of one parameter (gradflow step --weight 2.weight[3,17]), followed through the step:
//   dL/dW[i,j] = Σ_b (sample b's term); for a (out, in) weight the term is dy_b,i · x_b,j with
//   dy = dL/d(the layer's output) (the mean's 1/B included) and x the layer's input.
struct WeightEntry {
  std::string name;          // "2.weight"
  int64_t row = 0, col = -1;  // col = -1 for a vector
};
struct WeightDrill {
  WeightEntry entry;
  bool factored = false;           // a (out, in) weight: dy and x hold each term's two factors
  std::vector<double> dy, x;       // per sample, when factored
  std::vector<double> terms;       // per sample: its share of the gradient entry (backward on its row of dy alone)
  std::vector<double> numeric_terms;  // per sample: (L_b(w + h) − L_b(w − h)) / 2h / B, in double
  double gradient = 0;             // the entry of the gradient the optimizer received
  double numeric = 0;              // Σ numeric_terms: the central difference of the mean loss
  bool numeric_in_eval = false;    // a layer is random in training (dropout): differences in eval mode
  double before = 0, after = 0;    // the entry's value before and after the update
};
// Parses "2.weight[3,17]" or "2.bias[3]"; InputError otherwise.
WeightEntry parse_weight_entry(const std::string& text);

// After the model's forward_loss and backward on (x, labels), before the update: the entry's
// gradient, each sample's term and central difference (`after` is left for the caller, who
// updates). InputError when the model has no such entry. The model's gradients are left as
// they were.
WeightDrill trace_weight(Sequential<float>& model, const Matrix& x, const Labels& labels, const WeightEntry& entry);

}  // namespace gradflow
