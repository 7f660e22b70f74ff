#include "gradflow/layers/gemm.h"

#ifdef GRADFLOW_USE_BLAS
#include <cblas.h>
#endif

namespace gradflow {

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c) {
  const Eigen::Index m = transpose_a ? a.cols() : a.rows();
  const Eigen::Index k = transpose_a ? a.rows() : a.cols();
  const Eigen::Index n = transpose_b ? b.rows() : b.cols();
  c.resize(m, n);
#ifdef GRADFLOW_USE_BLAS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (static_cast<int64_t>(m) * n * k >= kBlasMinimumWork) {
      cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a.data(),
                  static_cast<int>(a.outerStride()), b.data(), static_cast<int>(b.outerStride()), 0.0f, c.data(),
                  static_cast<int>(c.outerStride()));
      return;
    }
  }
#endif
  if (transpose_a && transpose_b) {
    c.noalias() = a.transpose() * b.transpose();
  } else if (transpose_a) {
    c.noalias() = a.transpose() * b;
  } else if (transpose_b) {
    c.noalias() = a * b.transpose();
  } else {
    c.noalias() = a * b;
  }
}

template void gemm<float>(bool, bool, const Eigen::Ref<const MatrixT<float>>&, const Eigen::Ref<const MatrixT<float>>&,
                          MatrixT<float>&);
template void gemm<double>(bool, bool, const Eigen::Ref<const MatrixT<double>>&, const Eigen::Ref<const MatrixT<double>>&,
                           MatrixT<double>&);

}  // namespace gradflow
