#pragma once
// One training step on a gathered batch: forward, backward and the optimizer's update at `lr`
// (with `update_norms`, the per-parameter ||update|| too). The epoch runner, `gradflow bench`'s
// stage timing and the allocation test all run this one function.
#include <vector>

#include "gradflow/model.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/train/adversarial.h"

namespace gradflow {

struct StepOutcome {
  double loss = 0;              // the batch's mean loss (with training.adversarial: the clean batch's;
                                // with a LabelMix: the mixed loss)
  int64_t correct = 0;          // of the batch's rows, those the model classified right
  bool loss_finite = true;
  bool gradient_finite = true;  // false: the update has made the parameters non-finite
  double reduce_seconds = 0;    // data-parallel: the wall time of the gradients' all-reduce
  bool finite() const { return loss_finite && gradient_finite; }
};

// x: (B, features), y: (B): the batch, or in data-parallel training this rank's rows of it
// (`shard`). Then each rank's gradients, which average over its own rows, are weighted by its
// share of the global batch and summed in one all-reduce over the model's gradient block: every
// rank holds the global batch's mean gradient and applies the same update. `loss` stays this
// rank's own. With `adversarial` (training.adversarial), the gradient is its blend of the clean
// and the perturbed batch's (train/adversarial.h). With `mix` (training.mixup: x is then the
// mixed batch, train/mixup.h), the loss is the mixed target's.
StepOutcome train_step(Sequential<float>& model, Optimizer& optimizer, const Eigen::Ref<const Matrix>& x,
                       const Eigen::Ref<const Labels>& y, double lr, std::vector<double>* update_norms = nullptr,
                       const BatchShard& shard = {}, AdversarialStep* adversarial = nullptr, const LabelMix& mix = {});

}  // namespace gradflow
