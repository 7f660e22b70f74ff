#include "gradflow/train/adversarial.h"

namespace gradflow {

double AdversarialStep::forward_backward(Sequential<float>& model, const Eigen::Ref<const Matrix>& x,
                                         const Eigen::Ref<const Labels>& y, int64_t* correct, const LabelMix& mix) {
  const double loss = model.forward_loss(x, y, mix);
  if (correct != nullptr) *correct = model.head().correct();
  model.backward(&input_gradient_);
  clean_gradient_ = model.gradient_block();
  // x + ε·sign(∇ₓJ): a zero gradient entry leaves its input where it is
  const auto epsilon = static_cast<float>(options_.epsilon);
  perturbed_ = x + epsilon * input_gradient_.unaryExpr([](float g) { return float((g > 0.0f) - (g < 0.0f)); });
  model.forward_loss(perturbed_, y, mix);
  model.backward();
  const auto alpha = static_cast<float>(options_.weight);
  auto gradients = model.gradient_block();
  gradients = alpha * clean_gradient_ + (1.0f - alpha) * gradients;
  return loss;
}

}  // namespace gradflow
