#pragma once
// The one tensor convention of gradflow: a batch is a row-major matrix, one sample per row.
//   activations: (B, features)    weights: (out, in), like PyTorch's nn.Linear
// Training runs in float32; gradient checks instantiate the same code in double.
#include "gradflow/eigen.h"
#include <cstdint>
#include <string>
#include <vector>

namespace gradflow {

template <typename Scalar>
using MatrixT = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Scalar>
using RowVectorT = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

using Matrix = MatrixT<float>;        // (B, features), float32, row-major
using RowVector = RowVectorT<float>;  // (features)
using Labels = Eigen::VectorXi;       // (B), class indices

// The name and shape of one trained tensor, as a layer declares it before storage exists.
struct TensorShape {
  std::string name;            // local name, e.g. "weight"
  std::vector<int64_t> shape;  // e.g. {out, in}; {} for a scalar

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// A non-owning view of one named tensor of a layer, stored contiguously in row-major order.
// `gradient` is null for state that is not trained (e.g. running statistics).
template <typename Scalar>
struct TensorView {
  std::string name;             // local name, e.g. "weight"; the model prefixes the layer index
  std::vector<int64_t> shape;   // e.g. {out, in}
  Scalar* value = nullptr;
  Scalar* gradient = nullptr;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

}  // namespace gradflow
