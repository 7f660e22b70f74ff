#pragma once
// The max-norm constraint (Srivastava et al. 2014, "Dropout", section 5.1): after every update,
// each unit's incoming weight vector — a row of a weight matrix laid out (out, in), as a dense
// layer's is — is projected back onto the ball of radius c:
//   w_j ← w_j · min(1, c / ‖w_j‖₂)
// It applies to every 2-D parameter (dense weights) and to no other: biases, batch norm's γ and
// β are vectors and stay as the optimizer left them. Unlike torch.renorm, which divides by
// ‖w_j‖ + 1e-7, a row over c ends at norm c (to float rounding).
// Config: {"optimizer": {..., "max_norm": 3.5}} for any optimizer; absent or null: off.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

inline constexpr const char* kMaxNormOption = "max_norm";

// Reads `max_norm` from the optimizer object `spec` at `path`: null when absent or null (off),
// else a number > 0; ConfigError naming <path>/max_norm otherwise.
nlohmann::json resolve_max_norm(const nlohmann::json& spec, const std::string& path);
// The option as `gradflow optimizers` lists it (describe_option's form; default null: off).
nlohmann::json describe_max_norm_option();

// Rescales every row of each 2-D parameter whose norm exceeds `max_norm` to norm `max_norm`.
// Each row's norm is summed in order in double, so the result does not depend on the threads.
void apply_max_norm(const std::vector<TensorView<float>>& parameters, double max_norm);

}  // namespace gradflow
