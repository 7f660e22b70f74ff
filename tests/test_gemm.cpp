// kernels/gemm, with every product backend: every transposition, both split directions (rows and columns of the result),
// 1 and 2 threads, the BLAS and the Eigen paths, overwrite and accumulate, against a naive
// triple loop in double.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>

#include "gradflow/errors.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/kernels/gemm.h"
#include "gradflow/parallel.h"

using namespace gradflow;

namespace {
template <typename Scalar>
MatrixT<double> naive(bool ta, bool tb, const MatrixT<Scalar>& a, const MatrixT<Scalar>& b) {
  const MatrixT<double> A = ta ? MatrixT<double>(a.template cast<double>().transpose()) : a.template cast<double>();
  const MatrixT<double> B = tb ? MatrixT<double>(b.template cast<double>().transpose()) : b.template cast<double>();
  MatrixT<double> c = MatrixT<double>::Zero(A.rows(), B.cols());
  for (Eigen::Index i = 0; i < A.rows(); ++i)
    for (Eigen::Index j = 0; j < B.cols(); ++j)
      for (Eigen::Index p = 0; p < A.cols(); ++p) c(i, j) += A(i, p) * B(p, j);
  return c;
}

struct Shape {
  Eigen::Index m, n, k;
};

template <typename Scalar>
void check_all(double tolerance) {
  // tiny (one thread, Eigen), split by rows (m >= n, or a transposed), split by columns (n > m), large enough for
  // BLAS blocks, and sizes that are not multiples of the 16-wide tiles
  const Shape shapes[] = {{3, 5, 7}, {200, 70, 40}, {37, 300, 50}, {130, 260, 140}, {300, 130, 140}, {17, 33, 1}};
  for (const int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const Shape s : shapes) {
      for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
          std::srand(static_cast<unsigned>(s.m * 31 + s.n * 7 + s.k + ta * 2 + tb));
          const MatrixT<Scalar> a = ta ? MatrixT<Scalar>::Random(s.k, s.m) : MatrixT<Scalar>::Random(s.m, s.k);
          const MatrixT<Scalar> b = tb ? MatrixT<Scalar>::Random(s.n, s.k) : MatrixT<Scalar>::Random(s.k, s.n);
          const MatrixT<double> expected = naive<Scalar>(ta, tb, a, b);
          const std::string where = std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
                                    (ta ? " a^T" : "") + (tb ? " b^T" : "") + ", " + std::to_string(threads) + " threads";

          MatrixT<Scalar> c = MatrixT<Scalar>::Constant(2, 2, Scalar(9));  // resized and overwritten
          gemm<Scalar>(ta, tb, a, b, c);
          ASSERT_EQ(c.rows(), s.m) << where;
          ASSERT_EQ(c.cols(), s.n) << where;
          EXPECT_LT((c.template cast<double>() - expected).cwiseAbs().maxCoeff(), tolerance * static_cast<double>(s.k)) << where;

          MatrixT<Scalar> d = MatrixT<Scalar>::Constant(s.m, s.n, Scalar(1.5));  // kept and added to
          gemm<Scalar>(ta, tb, a, b, d, /*accumulate=*/true);
          EXPECT_LT((d.template cast<double>() - expected.array().matrix() -
                     MatrixT<double>::Constant(s.m, s.n, 1.5)).cwiseAbs().maxCoeff(),
                    tolerance * static_cast<double>(s.k))
              << where << ", accumulate";
        }
      }
    }
  }
  omp_set_num_threads(1);
}
}  // namespace

// Runs `check` once with each registered backend, then restores the default.
template <typename F>
void with_every_backend(F&& check) {
  for (const ProductBackend* backend : ProductBackends::instance().all()) {
    SCOPED_TRACE("backend " + backend->name());
    use_product_backend(backend->name());
    EXPECT_EQ(&product_backend(), backend);
    check();
  }
  use_product_backend("auto");
}

TEST(Gemm, FloatMatchesNaiveProductOnEveryPath) { with_every_backend([] { check_all<float>(1e-5); }); }
TEST(Gemm, DoubleMatchesNaiveProductOnEveryPath) { with_every_backend([] { check_all<double>(1e-13); }); }

TEST(Gemm, BackendsAreChosenByNameAtRunTime) {
  const auto names = ProductBackends::instance().names();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[0], "auto");
  EXPECT_NE(std::find(names.begin(), names.end(), "eigen"), names.end());
  use_product_backend("auto");
  EXPECT_EQ(&product_backend(), ProductBackends::instance().all().front());
  EXPECT_THROW(use_product_backend("cuda"), InputError);
}

TEST(Gemm, SameThreadCountSameBits) {
  std::srand(3);
  const Matrix a = Matrix::Random(128, 784), b = Matrix::Random(512, 784);
  omp_set_num_threads(2);
  Matrix c1, c2;
  gemm<float>(false, true, a, b, c1);
  gemm<float>(false, true, a, b, c2);
  omp_set_num_threads(1);
  EXPECT_TRUE((c1.array() == c2.array()).all());
}

// One thread running the blocks laid out for two (set_running_threads, as the thread tuner does
// on a busy machine) gives the two threads' result bit for bit, on every backend and both split
// directions: the dense layers' forward (split by columns), dW (by rows) and dx (by columns).
TEST(Gemm, OneThreadRunningTwoThreadsBlocksGivesTheirBits) {
  with_every_backend([] {
    std::srand(5);
    const Matrix x = Matrix::Random(128, 784), w = Matrix::Random(512, 784), dy = Matrix::Random(128, 512);
    struct Case {
      bool ta, tb;
      const Matrix *a, *b;
    } cases[] = {{false, true, &x, &w}, {true, false, &dy, &x}, {false, false, &dy, &w}};
    for (const Case& p : cases) {
      set_threads(2);
      Matrix two, one;
      gemm<float>(p.ta, p.tb, *p.a, *p.b, two);
      set_running_threads(1, 2);
      EXPECT_EQ(omp_get_max_threads(), 1);
      gemm<float>(p.ta, p.tb, *p.a, *p.b, one);
      EXPECT_TRUE((one.array() == two.array()).all()) << "ta " << p.ta << " tb " << p.tb;
    }
    set_threads(1);
    EXPECT_EQ(partition_threads(), 1) << "set_threads unpins the partition";
  });
}

TEST(Gemm, InsideAParallelRegionEachThreadRunsItsOwnProduct) {
  std::srand(4);
  const Matrix a = Matrix::Random(64, 300), b = Matrix::Random(300, 200);
  const MatrixT<double> expected = naive<float>(false, false, a, b);
  Matrix c[2];
  omp_set_num_threads(2);
#pragma omp parallel num_threads(2)
  gemm<float>(false, false, a, b, c[omp_get_thread_num()]);
  omp_set_num_threads(1);
  for (const Matrix& ci : c) EXPECT_LT((ci.cast<double>() - expected).cwiseAbs().maxCoeff(), 1e-5 * 300);
}
