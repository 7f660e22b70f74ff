#pragma once
// ReLU:  y = max(x, 0)      backward:  dx = dy where y > 0, else 0
#include "gradflow/layers/activation.h"

namespace gradflow {

template <typename Scalar>
class ReLU : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  explicit ReLU(int64_t size) : Activation<Scalar>(size) {}
  ReLU(const nlohmann::json& /*args*/, int64_t input) : Activation<Scalar>(input) {}

  std::string type() const override { return "relu"; }
  LayerFormulas formulas() const override {
    return {"y = max(x, 0)", "dx = dy ⊙ 1[y > 0]   (units at 0 block the gradient)"};
  }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
  // blocked: entries with y = 0; dead: units with y = 0 for every sample
  GateStatistics gate_statistics(const ConstRef& x, const ConstRef& y) const override;
};

}  // namespace gradflow
