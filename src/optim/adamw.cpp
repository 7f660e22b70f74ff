#include "gradflow/optim/adamw.h"

namespace gradflow {

GRADFLOW_REGISTER_OPTIMIZER(AdamW, "adamw", "AdamW, like torch.optim.AdamW (weight decay decoupled from the gradient)",
                            1e-3, nullptr,
                            {{"beta1", OptionSpec::Number, 0.9, {0, 1, false, true}, "decay β₁ of the gradient's running mean", {}},
                             {"beta2", OptionSpec::Number, 0.999, {0, 1, false, true}, "decay β₂ of its running square", {}},
                             {"eps", OptionSpec::Number, 1e-8, {0, 1, true, false}, "ε added to the denominator", {}},
                             {"weight_decay", OptionSpec::Number, 0.01, {0, 1e3}, "decoupled decay λ: W ← W − lr·λ·W", {}},
                             {"amsgrad", OptionSpec::Boolean, false, {}, "use the maximum of past v (AMSGrad)", {}}});

}  // namespace gradflow
