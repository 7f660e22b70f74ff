#pragma once
// The matrix products of dense layers, row-major:  c = op(a) · op(b),  op = identity or transpose.
// Large float products go to the system BLAS (OpenBLAS's sgemm, when gradflow is built with
// GRADFLOW_BLAS); small ones, and every double product, stay in Eigen, whose own kernels win
// where a BLAS call's threading overhead would dominate. Both write into c's existing storage.
#include "gradflow/tensor.h"

namespace gradflow {

// m·n·k at and above which a float product is handed to BLAS.
inline constexpr int64_t kBlasMinimumWork = int64_t(1) << 24;

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c);

}  // namespace gradflow
