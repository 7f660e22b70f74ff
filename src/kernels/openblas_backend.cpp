// The OpenBLAS backend (Debian's libopenblas-openmp-dev, built with GRADFLOW_BLAS): a float
// block large enough goes to cblas_sgemm; smaller blocks, where the call costs more than it
// saves, and every double product go to Eigen.
#include <cblas.h>

#include "gradflow/kernels/backend.h"
#include "gradflow/kernels/gemm.h"

namespace gradflow {

namespace {
class OpenBlasBackend : public ProductBackend {
 public:
  std::string name() const override { return "openblas"; }
  std::string help() const override {
    return "OpenBLAS's sgemm for float blocks of at least 2^20 multiply-adds, Eigen for the rest";
  }
  int priority() const override { return 10; }

  void block(const BlockProduct<float>& p) const override {
    const Eigen::Index k = p.depth();
    if (static_cast<int64_t>(p.rows) * p.cols * k < kBlasMinimumWork) {
      eigen_block_product(p);
      return;
    }
    // rows of op(a) are rows of a, or columns of a when it is transposed; likewise columns of op(b)
    const float* a_rows = p.transpose_a ? p.a.data() + p.row : p.a.data() + p.row * p.a.outerStride();
    const float* b_cols = p.transpose_b ? p.b.data() + p.col * p.b.outerStride() : p.b.data() + p.col;
    cblas_sgemm(CblasRowMajor, p.transpose_a ? CblasTrans : CblasNoTrans, p.transpose_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(p.rows), static_cast<int>(p.cols), static_cast<int>(k), 1.0f, a_rows,
                static_cast<int>(p.a.outerStride()), b_cols, static_cast<int>(p.b.outerStride()),
                p.accumulate ? 1.0f : 0.0f, p.c.data() + p.row * p.c.outerStride() + p.col,
                static_cast<int>(p.c.outerStride()));
  }
  void block(const BlockProduct<double>& p) const override { eigen_block_product(p); }
};
}  // namespace

GRADFLOW_REGISTER_PRODUCT_BACKEND(OpenBlasBackend);

}  // namespace gradflow
