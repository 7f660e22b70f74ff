#pragma once
// bfloat16: float32's sign, exponent and top 7 mantissa bits (8 significant bits, ~2-3 decimal
// digits, float32's range). Mixed-precision training ("precision": "bf16") multiplies bf16
// copies of a dense layer's operands and accumulates in float32 (kernels/onednn.h); everything
// else — master weights, optimizer, biases, head, loss — stays float32.
#include <string>

#include "gradflow/tensor.h"

namespace gradflow {

using bfloat16 = Eigen::bfloat16;
using MatrixBf16 = MatrixT<bfloat16>;  // row-major, like every gradflow matrix

// dst = src rounded to the nearest bfloat16, ties to even (as the CPU's VCVTNEPS2BF16 and
// PyTorch's .to(torch.bfloat16)); dst is resized to src's shape. Split across the threads.
void to_bfloat16(const Eigen::Ref<const MatrixT<float>>& src, MatrixBf16& dst);

// The precision of the dense layers' products. fp32 is the default; bf16 needs oneDNN.
enum class Precision { FP32, BF16 };

Precision parse_precision(const std::string& name);  // "fp32" or "bf16"; InputError otherwise
std::string precision_name(Precision p);
// Whether this build can multiply in bf16 (built with oneDNN, GRADFLOW_ONEDNN).
bool bf16_products_built();

// The precision products run in from now on (set from the config's "precision", like the product
// backend). BF16 without oneDNN is an InputError.
void use_precision(Precision p);
Precision product_precision();

}  // namespace gradflow
