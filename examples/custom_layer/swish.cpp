#include "swish.h"

#include "gradflow/layer_registry.h"

namespace {
// σ(x) = (1 + tanh(x/2)) / 2: the same value as 1/(1 + e^−x), without overflow for large |x|
template <typename Derived>
auto sigmoid(const Eigen::ArrayBase<Derived>& x) {
  using Scalar = typename Derived::Scalar;
  return (Scalar(1) + (Scalar(0.5) * x).tanh()) * Scalar(0.5);
}
}  // namespace

template <typename Scalar>
void Swish<Scalar>::forward(const ConstRef& x, Mat& y) {
  y = x.array() * sigmoid(x.array());
}

template <typename Scalar>
void Swish<Scalar>::backward(const ConstRef& x, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  *dx = dy.array() * sigmoid(x.array()) * (Scalar(1) + x.array() * (Scalar(1) - sigmoid(x.array())));
}

template class Swish<float>;
template class Swish<double>;

GRADFLOW_REGISTER_LAYER(Swish, "swish", "y = x·sigmoid(x) (an example layer registered outside the library)", {});
