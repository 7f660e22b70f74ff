#include "gradflow/layers/gelu.h"

#include <cmath>

#include "gradflow/layer_registry.h"

namespace gradflow {

namespace {
template <typename Scalar>
Scalar normal_cdf(Scalar x) {
  return Scalar(0.5) * (Scalar(1) + std::erf(x * Scalar(M_SQRT1_2)));
}
}  // namespace

template <typename Scalar>
void Gelu<Scalar>::forward(const ConstRef& x, Mat& y) {
  y = x.unaryExpr([](Scalar v) { return v * normal_cdf(v); });
}

template <typename Scalar>
void Gelu<Scalar>::backward(const ConstRef& x, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  const Scalar inv_sqrt_2pi = Scalar(0.5 * M_2_SQRTPI * M_SQRT1_2);  // 1/√(2π)
  *dx = dy.array() * x.array().unaryExpr([inv_sqrt_2pi](Scalar v) {
    return normal_cdf(v) + v * inv_sqrt_2pi * std::exp(Scalar(-0.5) * v * v);
  });
}

template class Gelu<float>;
template class Gelu<double>;

GRADFLOW_REGISTER_LAYER(Gelu, "gelu", "Gaussian error linear unit (exact): y = x·Φ(x)", {});

}  // namespace gradflow
