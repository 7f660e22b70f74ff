#pragma once
// Tanh:  y = tanh(x)      backward:  dx = dy · (1 − y²)
#include "gradflow/layers/activation.h"

namespace gradflow {

template <typename Scalar>
class Tanh : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  explicit Tanh(int64_t size) : Activation<Scalar>(size) {}
  Tanh(const nlohmann::json& /*args*/, int64_t input) : Activation<Scalar>(input) {}

  std::string type() const override { return "tanh"; }
  LayerFormulas formulas() const override { return {"y = tanh(x)", "dx = dy ⊙ (1 − y²)"}; }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
};

}  // namespace gradflow
