#pragma once
// The matrix products of dense layers, row-major:  c = op(a) · op(b),  op = identity or transpose,
// or with `accumulate`  c += op(a) · op(b)  (c must then already be (m, n)).
//   op(a): (m, k)   op(b): (k, n)   c: (m, n), written into c's existing storage when the shape fits.
//
// Threads: a product large enough to pay for it is split along the longer side of c (along its
// rows when a is transposed) into one contiguous block per thread, and each thread runs one
// single-threaded product on its block.
// No thread waits on another inside a product (the BLAS's and Eigen's own parallel products
// synchronise per panel), and the same thread count always gives the same result. Each block is
// computed by the current product backend (kernels/backend.h): Eigen, or OpenBLAS's sgemm for
// large float blocks when gradflow is built with GRADFLOW_BLAS.
#include "gradflow/tensor.h"

namespace gradflow {

// m·n·k at and above which a product is split across threads (below it, one thread is faster
// than waking a second one).
inline constexpr int64_t kParallelMinimumWork = int64_t(1) << 18;
// m·n·k of one thread's block at and above which the OpenBLAS backend hands a float block to BLAS.
inline constexpr int64_t kBlasMinimumWork = int64_t(1) << 20;

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c, bool accumulate = false);
// The same into a view that is already (m, n), e.g. a weight gradient in the parameter block.
template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, Eigen::Ref<MatrixT<Scalar>> c, bool accumulate = false);

}  // namespace gradflow
