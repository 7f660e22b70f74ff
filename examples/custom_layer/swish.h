#pragma once
// Swish (also called SiLU):  y = x·σ(x)
// backward:  dy/dx = σ(x) + x·σ(x)(1 − σ(x)) = σ(x)·(1 + x·(1 − σ(x)))
// It caches nothing: backward receives x from the model and recomputes σ(x) from it.
#include "gradflow/layers/activation.h"

template <typename Scalar>
class Swish : public gradflow::Activation<Scalar> {
 public:
  using typename gradflow::Layer<Scalar>::Mat;
  using typename gradflow::Layer<Scalar>::ConstRef;

  Swish(const nlohmann::json& /*args*/, int64_t input) : gradflow::Activation<Scalar>(input) {}

  std::string type() const override { return "swish"; }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
};
