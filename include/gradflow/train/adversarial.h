#pragma once
// training.adversarial: adversarial training with the fast gradient sign method (Goodfellow,
// Shlens and Szegedy 2015, "Explaining and harnessing adversarial examples", section 5). Each step
// trains on
//   J̃(θ) = α·J(θ, x, y) + (1 − α)·J(θ, x + ε·sign(∇ₓJ(θ, x, y)), y)
// with the perturbation held constant (nothing is differentiated through the sign): a forward and
// backward on the clean batch, which also gives ∇ₓJ, then a forward and backward on the perturbed
// batch, and the parameter gradient α·g_clean + (1 − α)·g_perturbed. So a step costs about two
// plain ones. Random layers (dropout, gaussian_noise) draw afresh for the second pass, and batch
// norm normalises each pass by its own batch and updates its running statistics with both.
// ε is in the units of the model's input, the normalised pixels ((pixel − data.mean) / data.std).
// With training.mixup, x is the mixed batch and J the mixed loss (train/mixup.h): the perturbation
// follows the mixed loss's input gradient, and both passes train on the mixed target.
#include <vector>

#include "gradflow/config.h"
#include "gradflow/model.h"

namespace gradflow {

class AdversarialStep {
 public:
  explicit AdversarialStep(AdversarialOptions options) : options_(options) {}

  // x: (B, features), y: (B), with `mix` the mixed target. Both passes; leaves
  // α·g_clean + (1 − α)·g_perturbed in the model's gradient block and returns the clean batch's
  // mean loss, its correct count in `correct`.
  double forward_backward(Sequential<float>& model, const Eigen::Ref<const Matrix>& x,
                          const Eigen::Ref<const Labels>& y, int64_t* correct, const LabelMix& mix = {});

  const AdversarialOptions& options() const { return options_; }
  const Matrix& perturbed() const { return perturbed_; }  // the last step's x + ε·sign(∇ₓJ)

 private:
  AdversarialOptions options_;
  Matrix input_gradient_, perturbed_;  // (B, features): ∇ₓJ of the clean pass, and the perturbed batch
  Eigen::VectorXf clean_gradient_;     // the clean pass's parameter gradients, the model's block layout
};

}  // namespace gradflow
