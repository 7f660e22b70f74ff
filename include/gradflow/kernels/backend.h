#pragma once
// Product backends: what computes one block of a matrix product on the calling thread. gemm()
// (kernels/gemm.h) splits a product across threads and hands each thread's block to the current
// backend, so a backend never threads, and a new one is one source file that registers itself:
//
//   class MyBackend : public ProductBackend { ... };
//   GRADFLOW_REGISTER_PRODUCT_BACKEND(MyBackend);
//
// The backend is chosen at run time: the config's "backend" ("auto": the registered backend of
// the highest priority), `use_product_backend(name)`, or `gradflow backends` to list them.
#include <memory>
#include <string>
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

// The block rows [row, row + rows) × columns [col, col + cols) of c = op(a) · op(b) (with
// `accumulate`, c += ...); op transposes when asked. a, b, c row-major.
template <typename Scalar>
struct BlockProduct {
  bool transpose_a, transpose_b;
  const Eigen::Ref<const MatrixT<Scalar>>& a;
  const Eigen::Ref<const MatrixT<Scalar>>& b;
  Eigen::Ref<MatrixT<Scalar>>& c;  // the whole product: an owned matrix or a view (a gradient in the parameter block)
  Eigen::Index row, rows, col, cols;
  bool accumulate;
  Eigen::Index depth() const { return transpose_a ? a.rows() : a.cols(); }  // k
};

class ProductBackend {
 public:
  virtual ~ProductBackend() = default;
  virtual std::string name() const = 0;
  virtual std::string help() const = 0;
  // "auto" picks the registered backend of the highest priority.
  virtual int priority() const { return 0; }
  virtual void block(const BlockProduct<float>& p) const = 0;
  virtual void block(const BlockProduct<double>& p) const = 0;
};

// Eigen's product of one block: the reference every backend can fall back to.
template <typename Scalar>
void eigen_block_product(const BlockProduct<Scalar>& p);

class ProductBackends {
 public:
  static ProductBackends& instance();
  bool add(std::unique_ptr<ProductBackend> backend);  // returns true, so registration can initialise a static
  const ProductBackend* find(const std::string& name) const;
  std::vector<const ProductBackend*> all() const;  // highest priority first
  std::vector<std::string> names() const;          // "auto" first, then all()'s names

 private:
  std::vector<std::unique_ptr<ProductBackend>> backends_;
};

// The backend gemm() uses from now on: a registered name or "auto". InputError for another name.
void use_product_backend(const std::string& name);
const ProductBackend& product_backend();

}  // namespace gradflow

#define GRADFLOW_REGISTER_PRODUCT_BACKEND(Class)                        \
  [[maybe_unused]] static const bool gradflow_registered_backend_##Class = \
      ::gradflow::ProductBackends::instance().add(std::make_unique<Class>())
