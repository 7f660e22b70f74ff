#include "swish.h"

#include "gradflow/layer_registry.h"

template <typename Scalar>
void Swish<Scalar>::forward(const ConstRef& x, Mat& y) {
  input_ = x;
  sigmoid_ = (Scalar(1) + (Scalar(0.5) * x.array()).tanh()) * Scalar(0.5);  // σ(x), no overflow
  y = x.cwiseProduct(sigmoid_);
}

template <typename Scalar>
void Swish<Scalar>::backward(const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  *dx = dy.array() * sigmoid_.array() * (Scalar(1) + input_.array() * (Scalar(1) - sigmoid_.array()));
}

template class Swish<float>;
template class Swish<double>;

GRADFLOW_REGISTER_LAYER(Swish, "swish", "y = x·sigmoid(x) (an example layer registered outside the library)", {});
