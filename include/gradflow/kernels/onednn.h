#pragma once
// Matrix products through oneDNN (Debian's libdnnl-dev), for the bf16 precision: bfloat16
// operands, float32 accumulation and result, on the CPU's AMX tiles or AVX512-BF16 instructions
// where it has them. Built with GRADFLOW_ONEDNN; without it, bf16_hardware() says so and the
// products throw.
//
// oneDNN 2.6 has bf16 matmuls only on CPUs with AVX-512 (native on AVX512-BF16 or AMX, emulated
// with float32 instructions on plain AVX-512). On an older CPU (AVX2) gradflow multiplies the
// bfloat16 operands itself: widened to float32, which is exact, through the float32 products of
// kernels/gemm.h. The operands and the float32 accumulation are the same; only the order of the
// sums differs, and the speed: this is slower than fp32.
//
// Each product shape (data type, transposes, sizes, strides, bias, accumulate, thread count) gets
// one oneDNN matmul primitive, created the first time and reused, with its scratchpad in one
// buffer shared by all of them; each thread keeps its own. oneDNN threads a bf16 product itself,
// with gradflow's OpenMP threads.
//
// The same file registers the "onednn" product backend (kernels/backend.h): float32 blocks of
// gemm()'s products through oneDNN, one per thread. It is chosen only by name ("backend":
// "onednn"), never by "auto", so fp32 results stay OpenBLAS's unless a config asks.
#include <string>

#include "gradflow/kernels/bfloat16.h"

namespace gradflow {

// c = op(a) · op(b) (+ bias, broadcast over c's rows), or with `accumulate` c += op(a) · op(b);
// op transposes when asked. Shapes as gemm() (kernels/gemm.h): op(a): (m, k), op(b): (k, n),
// c: (m, n) already. bias: n floats or null (not with accumulate).
void bf16_gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixBf16>& a,
               const Eigen::Ref<const MatrixBf16>& b, Eigen::Ref<MatrixT<float>> c, bool accumulate = false,
               const float* bias = nullptr);

// What bf16 products run on here, found once by creating a dense layer's product.
struct Bf16Hardware {
  bool built = false;         // gradflow has oneDNN
  bool native = false;        // the CPU multiplies bf16 itself (AMX or AVX512-BF16)
  bool onednn_kernel = false; // oneDNN has a bf16 matmul for this CPU; else gradflow widens to float32
  std::string units;          // "AMX", "AVX512-BF16" or "no bf16 units (emulated ...)"
  std::string implementation; // oneDNN's name for the kernel, e.g. "brg:avx512_core_amx_bf16"
  std::string library;        // "oneDNN 2.6.3"
  std::string describe() const;  // one line for the training log and bench
};
const Bf16Hardware& bf16_hardware();
// Logs describe() once per process; on a CPU without bf16 units, also a warning that explains the
// choice: bf16 is then emulated and slower than fp32.
void log_bf16_hardware();

// Primitives the calling thread has created so far (tests: reuse, not re-creation).
int64_t bf16_primitives_created();

}  // namespace gradflow
