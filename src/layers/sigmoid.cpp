#include "gradflow/layers/sigmoid.h"

#include "gradflow/layer_registry.h"

namespace gradflow {

template <typename Scalar>
void Sigmoid<Scalar>::forward(const ConstRef& x, Mat& y) {
  // 1 / (1 + e^−x) = (1 + tanh(x/2)) / 2: no overflow for large |x|
  y = (Scalar(1) + (Scalar(0.5) * x.array()).tanh()) * Scalar(0.5);
}

template <typename Scalar>
void Sigmoid<Scalar>::backward(const ConstRef& /*x*/, const ConstRef& y, const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  *dx = dy.array() * y.array() * (Scalar(1) - y.array());  // σ' = σ(1 − σ) = y(1 − y)
}

template class Sigmoid<float>;
template class Sigmoid<double>;

GRADFLOW_REGISTER_LAYER(Sigmoid, "sigmoid", "logistic: y = 1 / (1 + exp(-x))", {});

}  // namespace gradflow
