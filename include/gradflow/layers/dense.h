#pragma once
// Dense (fully connected), like PyTorch's nn.Linear:  y = x W^T + b
//   x: (B, in)   W: (out, in)   b: (out)   y: (B, out)
// Backward:  dW = dy^T x   db = sum over the batch of dy   dx = dy W
// W, b and their gradients are views into the parameter block: "weight" then "bias".
//
// In bf16 precision (kernels/bfloat16.h) the three products multiply bfloat16 copies and
// accumulate in float32: forward converts x (kept for dW) and W (once per forward, so once per
// optimizer step), backward converts dy once for both dW and dx. W, b, db and every output stay
// float32.
#include "gradflow/kernels/bfloat16.h"
#include "gradflow/layer.h"

namespace gradflow {

enum class DenseInit { KaimingUniform, XavierUniform };

template <typename Scalar>
class Dense : public Layer<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;
  using Init = DenseInit;

  Dense(int64_t input, int64_t units, Init init = Init::KaimingUniform);
  // From a validated config spec: {"type": "dense", "units": N, "init": "kaiming_uniform"}.
  Dense(const nlohmann::json& args, int64_t input);

  static int64_t output_size_for(const nlohmann::json& args, int64_t /*input*/) { return args.at("units").get<int64_t>(); }
  static int64_t parameter_count_for(const nlohmann::json& args, int64_t input) {
    return (input + 1) * args.at("units").get<int64_t>();
  }

  std::string type() const override { return "dense"; }
  LayerFormulas formulas() const override {
    return {"y = x·Wᵀ + b", "dW = dyᵀ·x   db = Σ_b dy   dx = dy·W"};
  }
  int64_t input_size() const override { return input_; }
  int64_t output_size() const override { return units_; }

  // kaiming_uniform (PyTorch's default for nn.Linear): W, b ~ U(-1/sqrt(in), 1/sqrt(in))
  // xavier_uniform: W ~ U(-sqrt(6/(in+out)), +sqrt(6/(in+out))), b = 0
  void initialize(std::mt19937_64& rng) override;

  double forward_flop(int64_t rows) const override {
    return 2.0 * static_cast<double>(rows) * static_cast<double>(input_size()) * static_cast<double>(output_size());
  }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
  std::vector<TensorShape> parameter_shapes() const override {
    return {{"weight", {units_, input_}}, {"bias", {units_}}};
  }

  Eigen::Map<Mat>& weight() { return weight_; }
  Eigen::Map<RowVectorT<Scalar>>& bias() { return bias_; }

 protected:
  void map_parameters(Scalar* values, Scalar* gradients) override;

 private:
  void forward_bf16(const ConstRef& x, Mat& y);
  void backward_bf16(const ConstRef& x, const ConstRef& dy, Mat* dx);

  Init init_;
  int64_t input_, units_;
  Eigen::Map<Mat> weight_{nullptr, 0, 0}, weight_grad_{nullptr, 0, 0};           // (out, in)
  Eigen::Map<RowVectorT<Scalar>> bias_{nullptr, 0}, bias_grad_{nullptr, 0};   // (out)
  // bf16 precision: the operands' bfloat16 copies, and which x x_bf16_ holds
  MatrixBf16 x_bf16_, weight_bf16_, dy_bf16_;  // (B, in), (out, in), (B, out)
  const Scalar* x_bf16_source_ = nullptr;
};

}  // namespace gradflow
