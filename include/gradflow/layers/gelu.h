#pragma once
// GELU (exact, like nn.GELU()):  y = x·Φ(x),  Φ(x) = (1 + erf(x/√2)) / 2
// backward:  dx = dy · (Φ(x) + x·φ(x)),  φ(x) = e^(−x²/2) / √(2π)
#include "gradflow/layers/activation.h"

namespace gradflow {

template <typename Scalar>
class Gelu : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  explicit Gelu(int64_t size) : Activation<Scalar>(size) {}
  Gelu(const nlohmann::json& /*args*/, int64_t input) : Activation<Scalar>(input) {}

  std::string type() const override { return "gelu"; }
  LayerFormulas formulas() const override {
    return {"y = x·Φ(x),  Φ(x) = (1 + erf(x/√2)) / 2",
            "dx = dy ⊙ (Φ(x) + x·φ(x)),  φ(x) = e^(−x²/2) / √(2π)"};
  }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
};

}  // namespace gradflow
