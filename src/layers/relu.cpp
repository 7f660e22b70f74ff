#include "gradflow/layers/relu.h"

#include "gradflow/layer_registry.h"

namespace gradflow {

template <typename Scalar>
void ReLU<Scalar>::forward(const ConstRef& x, Mat& y) {
  // x, y: (B, size)
  output_ = x.cwiseMax(Scalar(0));
  y = output_;
}

template <typename Scalar>
void ReLU<Scalar>::backward(const ConstRef& dy, Mat* dx) {
  // dx = dy * 1[y > 0]
  if (dx == nullptr) return;
  *dx = (output_.array() > Scalar(0)).select(dy, Scalar(0));
}

template class ReLU<float>;
template class ReLU<double>;

GRADFLOW_REGISTER_LAYER(ReLU, "relu", "rectified linear unit: y = max(x, 0)", {});

}  // namespace gradflow
