#pragma once
// PReLU, like nn.PReLU(num_parameters=features): a leaky ReLU whose slope a_j per feature is
// learned. A layer defined outside the library that has a parameter, so it shows how such a
// layer takes part in the model's parameter block.
//   y = x         where x > 0
//   y = a_j·x     elsewhere                                 x, y: (B, features), a: (features)
// backward:  dx = dy where x > 0, else a_j·dy      da_j = Σ_b dy·x where x <= 0
// Its parameter "weight" (a, as PyTorch names it) is a view into the model's block; it caches
// nothing (backward reads x from the model).
#include "gradflow/layer.h"

template <typename Scalar>
class PReLU : public gradflow::Layer<Scalar> {
 public:
  using typename gradflow::Layer<Scalar>::Mat;
  using typename gradflow::Layer<Scalar>::ConstRef;
  using Row = gradflow::RowVectorT<Scalar>;

  PReLU(const nlohmann::json& args, int64_t input);

  std::string type() const override { return "prelu"; }
  int64_t input_size() const override { return features_; }
  int64_t output_size() const override { return features_; }

  // 1. declare the trained tensors, in block order, with PyTorch's names and shapes
  std::vector<gradflow::TensorShape> parameter_shapes() const override { return {{"weight", {features_}}}; }

  void initialize(std::mt19937_64& /*rng*/) override { slope_.setConstant(static_cast<Scalar>(init_)); }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;

 protected:
  // 3. point the views at wherever the parameters live now (the layer's private block, then the
  //    model's); an Eigen::Map is rebound with placement new
  void map_parameters(Scalar* values, Scalar* gradients) override {
    new (&slope_) Eigen::Map<Row>(values, features_);
    new (&slope_grad_) Eigen::Map<Row>(gradients, features_);
  }

 private:
  int64_t features_;
  double init_;
  Eigen::Map<Row> slope_{nullptr, 0}, slope_grad_{nullptr, 0};  // (features): a and dL/da
};
