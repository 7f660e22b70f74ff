#include "gradflow/train/step.h"

#include <cmath>

namespace gradflow {

StepOutcome train_step(Sequential<float>& model, Optimizer& optimizer, const Eigen::Ref<const Matrix>& x,
                       const Eigen::Ref<const Labels>& y, double lr, std::vector<double>* update_norms) {
  StepOutcome outcome;
  outcome.loss = model.forward_loss(x, y);
  outcome.loss_finite = std::isfinite(outcome.loss);
  model.backward();
  outcome.gradient_finite = optimizer.step(lr, update_norms);
  return outcome;
}

}  // namespace gradflow
