#include "gradflow/layers/sigmoid.h"

#include "gradflow/layer_registry.h"

namespace gradflow {

template <typename Scalar>
void Sigmoid<Scalar>::forward(const ConstRef& x, Mat& y) {
  // 1 / (1 + e^−x) = (1 + tanh(x/2)) / 2: no overflow for large |x|
  output_ = (Scalar(1) + (Scalar(0.5) * x.array()).tanh()) * Scalar(0.5);
  y = output_;
}

template <typename Scalar>
void Sigmoid<Scalar>::backward(const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  *dx = dy.array() * output_.array() * (Scalar(1) - output_.array());
}

template class Sigmoid<float>;
template class Sigmoid<double>;

GRADFLOW_REGISTER_LAYER(Sigmoid, "sigmoid", "logistic: y = 1 / (1 + exp(-x))", {});

}  // namespace gradflow
