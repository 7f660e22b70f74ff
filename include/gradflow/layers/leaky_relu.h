#pragma once
// Leaky ReLU, like nn.LeakyReLU:  y = x if x > 0 else a·x      backward: dx = dy · (x > 0 ? 1 : a)
#include "gradflow/layers/activation.h"

namespace gradflow {

template <typename Scalar>
class LeakyReLU : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  LeakyReLU(int64_t size, double negative_slope) : Activation<Scalar>(size), slope_(static_cast<Scalar>(negative_slope)) {}
  LeakyReLU(const nlohmann::json& args, int64_t input) : LeakyReLU(input, args.at("negative_slope").get<double>()) {}

  std::string type() const override { return "leaky_relu"; }
  LayerFormulas formulas() const override;
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;

 private:
  Scalar slope_;
};

}  // namespace gradflow
