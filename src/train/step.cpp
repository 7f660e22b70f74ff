#include "gradflow/train/step.h"

#include <chrono>
#include <cmath>

namespace gradflow {

StepOutcome train_step(Sequential<float>& model, Optimizer& optimizer, const Eigen::Ref<const Matrix>& x,
                       const Eigen::Ref<const Labels>& y, double lr, std::vector<double>* update_norms,
                       const BatchShard& shard, AdversarialStep* adversarial, const LabelMix& mix) {
  StepOutcome outcome;
  if (shard.split()) model.set_batch_shard(shard);
  if (adversarial != nullptr) {
    outcome.loss = adversarial->forward_backward(model, x, y, &outcome.correct, mix);
  } else {
    outcome.loss = model.forward_loss(x, y, mix);
    outcome.correct = model.head().correct();
    model.backward();
  }
  outcome.loss_finite = std::isfinite(outcome.loss);
  if (shard.split()) {
    auto gradients = model.gradient_block();
    gradients *= static_cast<float>(static_cast<double>(x.rows()) / static_cast<double>(shard.global_rows));
    const auto start = std::chrono::steady_clock::now();
    shard.ranks->sum(gradients.data(), gradients.size());
    outcome.reduce_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  outcome.gradient_finite = optimizer.step(lr, update_norms);
  return outcome;
}

}  // namespace gradflow
