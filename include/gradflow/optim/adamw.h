#pragma once
// AdamW with PyTorch's semantics (torch.optim.AdamW, Loshchilov & Hutter 2019): Adam with the
// weight decay taken out of the gradient and applied to the weights directly, before the update:
//   p *= 1 - lr * weight_decay
//   then Adam's update (optim/adam.h) from the plain gradient
// Config: {"type": "adamw", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
//          "weight_decay": 0.01, "amsgrad": false}.
#include "gradflow/optim/adam.h"

namespace gradflow {

class AdamW : public Adam {
 public:
  using Adam::Adam;

 protected:
  Decay decay() const override { return {0.0f, weight_decay_}; }
  std::string decay_formula() const override { return "W ← W − lr·λ·W,  g = ∂L/∂W  (decoupled; λ: weight_decay)"; }
};

}  // namespace gradflow
