#include "gradflow/layers/gemm.h"

#include <omp.h>

#include <algorithm>

#ifdef GRADFLOW_USE_BLAS
#include <cblas.h>
#endif

namespace gradflow {

namespace {

// The block rows [row, row + rows) x columns [col, col + cols) of c = op(a) · op(b), on the
// calling thread alone.
template <typename Scalar>
void product_block(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
                   const Eigen::Ref<const MatrixT<Scalar>>& b, Eigen::Ref<MatrixT<Scalar>>& c, Eigen::Index row, Eigen::Index rows,
                   Eigen::Index col, Eigen::Index cols, bool accumulate) {
  const Eigen::Index k = transpose_a ? a.rows() : a.cols();
#ifdef GRADFLOW_USE_BLAS
  if constexpr (std::is_same_v<Scalar, float>) {
    if (static_cast<int64_t>(rows) * cols * k >= kBlasMinimumWork) {
      // rows of op(a) are rows of a, or columns of a when it is transposed; likewise columns of op(b)
      const float* a_rows = transpose_a ? a.data() + row : a.data() + row * a.outerStride();
      const float* b_cols = transpose_b ? b.data() + col * b.outerStride() : b.data() + col;
      cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(rows), static_cast<int>(cols), static_cast<int>(k), 1.0f, a_rows,
                  static_cast<int>(a.outerStride()), b_cols, static_cast<int>(b.outerStride()), accumulate ? 1.0f : 0.0f,
                  c.data() + row * c.outerStride() + col, static_cast<int>(c.outerStride()));
      return;
    }
  }
#endif
  auto out = c.block(row, col, rows, cols);
  if (!accumulate) out.setZero();
  if (transpose_a && transpose_b) {
    out.noalias() += a.middleCols(row, rows).transpose() * b.middleRows(col, cols).transpose();
  } else if (transpose_a) {
    out.noalias() += a.middleCols(row, rows).transpose() * b.middleCols(col, cols);
  } else if (transpose_b) {
    out.noalias() += a.middleRows(row, rows) * b.middleRows(col, cols).transpose();
  } else {
    out.noalias() += a.middleRows(row, rows) * b.middleCols(col, cols);
  }
}

}  // namespace

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c, bool accumulate) {
  if (!accumulate) c.resize(transpose_a ? a.cols() : a.rows(), transpose_b ? b.rows() : b.cols());
  gemm<Scalar>(transpose_a, transpose_b, a, b, Eigen::Ref<MatrixT<Scalar>>(c), accumulate);
}

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, Eigen::Ref<MatrixT<Scalar>> c, bool accumulate) {
  const Eigen::Index m = transpose_a ? a.cols() : a.rows();
  const Eigen::Index k = transpose_a ? a.rows() : a.cols();
  const Eigen::Index n = transpose_b ? b.rows() : b.cols();
  eigen_assert(c.rows() == m && c.cols() == n && "gemm: a product into a view of another shape");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) c.setZero();
    return;
  }
  // Split the longer side of c: each thread packs all of the operand along the other side, so
  // this packs the least. With a transposed (the weight gradients dy^T x), the rows: splitting
  // its columns made the dense layers' dW products 2 to 5% slower. Blocks are whole register
  // tiles (16 rows or columns), one per thread.
  constexpr Eigen::Index kTile = 16;
  const bool by_rows = transpose_a || m >= n;
  const Eigen::Index side = by_rows ? m : n;
  const Eigen::Index tiles = (side + kTile - 1) / kTile;
  const int threads = omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
  const int64_t work = static_cast<int64_t>(m) * n * k;
  const int blocks = work >= kParallelMinimumWork ? static_cast<int>(std::min<Eigen::Index>(threads, tiles)) : 1;
  if (blocks == 1) {
    product_block<Scalar>(transpose_a, transpose_b, a, b, c, 0, m, 0, n, accumulate);
    return;
  }
#pragma omp parallel num_threads(blocks)
  {
    const Eigen::Index t = omp_get_thread_num();
    const Eigen::Index first = std::min(side, tiles * t / blocks * kTile);
    const Eigen::Index last = std::min(side, tiles * (t + 1) / blocks * kTile);
    if (last > first) {
      if (by_rows) {
        product_block<Scalar>(transpose_a, transpose_b, a, b, c, first, last - first, 0, n, accumulate);
      } else {
        product_block<Scalar>(transpose_a, transpose_b, a, b, c, 0, m, first, last - first, accumulate);
      }
    }
  }
}

template void gemm<float>(bool, bool, const Eigen::Ref<const MatrixT<float>>&, const Eigen::Ref<const MatrixT<float>>&,
                          MatrixT<float>&, bool);
template void gemm<double>(bool, bool, const Eigen::Ref<const MatrixT<double>>&, const Eigen::Ref<const MatrixT<double>>&,
                           MatrixT<double>&, bool);
template void gemm<float>(bool, bool, const Eigen::Ref<const MatrixT<float>>&, const Eigen::Ref<const MatrixT<float>>&,
                          Eigen::Ref<MatrixT<float>>, bool);
template void gemm<double>(bool, bool, const Eigen::Ref<const MatrixT<double>>&, const Eigen::Ref<const MatrixT<double>>&,
                           Eigen::Ref<MatrixT<double>>, bool);

}  // namespace gradflow
