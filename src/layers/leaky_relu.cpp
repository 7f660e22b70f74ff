#include "gradflow/layers/leaky_relu.h"

#include <cstdio>
#include <string>

#include "gradflow/layer_registry.h"

namespace gradflow {

template <typename Scalar>
void LeakyReLU<Scalar>::forward(const ConstRef& x, Mat& y) {
  y = (x.array() > Scalar(0)).select(x, slope_ * x);
}

template <typename Scalar>
void LeakyReLU<Scalar>::backward(const ConstRef& x, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  *dx = (x.array() > Scalar(0)).select(dy, slope_ * dy);
}

template <typename Scalar>
LayerFormulas LeakyReLU<Scalar>::formulas() const {
  char slope[64];
  std::snprintf(slope, sizeof slope, "a = %g", static_cast<double>(slope_));
  return {std::string("y = x if x > 0 else a·x   (") + slope + ")", "dx = dy ⊙ (x > 0 ? 1 : a)"};
}

template class LeakyReLU<float>;
template class LeakyReLU<double>;

GRADFLOW_REGISTER_LAYER(LeakyReLU, "leaky_relu", "y = x for x > 0, else negative_slope·x",
                        {{"negative_slope", LayerParam::Number, 0.01, {0, 1}, "slope for x <= 0", {}}});

}  // namespace gradflow
