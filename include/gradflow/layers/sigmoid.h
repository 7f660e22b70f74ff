#pragma once
// Sigmoid:  y = 1 / (1 + e^−x)      backward:  dx = dy · y · (1 − y)
#include "gradflow/layers/activation.h"

namespace gradflow {

template <typename Scalar>
class Sigmoid : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  explicit Sigmoid(int64_t size) : Activation<Scalar>(size) {}
  Sigmoid(const nlohmann::json& /*args*/, int64_t input) : Activation<Scalar>(input) {}

  std::string type() const override { return "sigmoid"; }
  LayerFormulas formulas() const override { return {"y = σ(x) = 1 / (1 + e^(−x))", "dx = dy ⊙ y(1 − y)"}; }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
};

}  // namespace gradflow
