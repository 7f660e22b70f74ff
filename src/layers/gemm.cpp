#include "gradflow/layers/gemm.h"

#include <omp.h>

#include <algorithm>

#ifdef GRADFLOW_USE_BLAS
#include <cblas.h>
#endif

namespace gradflow {

namespace {

// Rows [row, row + rows) of c = op(a) · op(b), on the calling thread alone.
template <typename Scalar>
void product_rows(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
                  const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c, Eigen::Index row, Eigen::Index rows) {
  const Eigen::Index n = c.cols();
  const Eigen::Index k = transpose_a ? a.rows() : a.cols();
#ifdef GRADFLOW_USE_BLAS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (static_cast<int64_t>(rows) * n * k >= kBlasMinimumWork) {
      // rows of op(a) are rows of a, or columns of a when it is transposed
      const float* a_rows = transpose_a ? a.data() + row : a.data() + row * a.outerStride();
      cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(rows), static_cast<int>(n), static_cast<int>(k), 1.0f, a_rows,
                  static_cast<int>(a.outerStride()), b.data(), static_cast<int>(b.outerStride()), 0.0f,
                  c.data() + row * c.outerStride(), static_cast<int>(c.outerStride()));
      return;
    }
  }
#endif
  auto out = c.middleRows(row, rows);
  if (transpose_a && transpose_b) {
    out.noalias() = a.middleCols(row, rows).transpose() * b.transpose();
  } else if (transpose_a) {
    out.noalias() = a.middleCols(row, rows).transpose() * b;
  } else if (transpose_b) {
    out.noalias() = a.middleRows(row, rows) * b.transpose();
  } else {
    out.noalias() = a.middleRows(row, rows) * b;
  }
}

}  // namespace

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c) {
  const Eigen::Index m = transpose_a ? a.cols() : a.rows();
  const Eigen::Index k = transpose_a ? a.rows() : a.cols();
  const Eigen::Index n = transpose_b ? b.rows() : b.cols();
  c.resize(m, n);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    c.setZero();
    return;
  }
  // blocks of whole register tiles (16 rows), at most one per thread
  constexpr Eigen::Index kTile = 16;
  const int threads = omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
  const int64_t work = static_cast<int64_t>(m) * n * k;
  const Eigen::Index tiles = (m + kTile - 1) / kTile;
  const int blocks = work >= kParallelMinimumWork ? static_cast<int>(std::min<Eigen::Index>(threads, tiles)) : 1;
  if (blocks == 1) {
    product_rows<Scalar>(transpose_a, transpose_b, a, b, c, 0, m);
    return;
  }
#pragma omp parallel num_threads(blocks)
  {
    const Eigen::Index t = omp_get_thread_num();
    const Eigen::Index first = std::min(m, tiles * t / blocks * kTile);
    const Eigen::Index last = std::min(m, tiles * (t + 1) / blocks * kTile);
    if (last > first) product_rows<Scalar>(transpose_a, transpose_b, a, b, c, first, last - first);
  }
}

template void gemm<float>(bool, bool, const Eigen::Ref<const MatrixT<float>>&, const Eigen::Ref<const MatrixT<float>>&,
                          MatrixT<float>&);
template void gemm<double>(bool, bool, const Eigen::Ref<const MatrixT<double>>&, const Eigen::Ref<const MatrixT<double>>&,
                           MatrixT<double>&);

}  // namespace gradflow
