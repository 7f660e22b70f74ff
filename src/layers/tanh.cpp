#include "gradflow/layers/tanh.h"

#include "gradflow/layer_registry.h"

namespace gradflow {

template <typename Scalar>
void Tanh<Scalar>::forward(const ConstRef& x, Mat& y) {
  y = x.array().tanh();
}

template <typename Scalar>
void Tanh<Scalar>::backward(const ConstRef& /*x*/, const ConstRef& y, const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  *dx = dy.array() * (Scalar(1) - y.array().square());
}

template class Tanh<float>;
template class Tanh<double>;

GRADFLOW_REGISTER_LAYER(Tanh, "tanh", "hyperbolic tangent: y = tanh(x)", {});

}  // namespace gradflow
