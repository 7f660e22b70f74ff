#pragma once
// 1-D batch normalisation over the batch, like nn.BatchNorm1d(features, eps, momentum):
//   training:  mu, var = batch mean and (biased) variance per feature
//              x̂ = (x − mu) / sqrt(var + eps),  y = γ·x̂ + β
//              running_mean ← (1 − m)·running_mean + m·mu
//              running_var  ← (1 − m)·running_var  + m·var·B/(B − 1)   (unbiased, as PyTorch)
//   eval:      x̂ = (x − running_mean) / sqrt(running_var + eps)
// Backward (training), with s = 1/sqrt(var + eps):
//   dβ = Σ_b dy    dγ = Σ_b dy·x̂    dx = γ·s/B · (B·dy − Σ_b dy − x̂·Σ_b dy·x̂)
// running_mean, running_var and num_batches_tracked are state, not parameters: they are saved in
// checkpoints (as buffers) but never trained, and stay with the layer. γ ("weight") and β ("bias")
// are views into the parameter block. With affine false (nn.BatchNorm1d(affine=False)) there are
// no γ and β: y = x̂, and dx is the formula above with γ = 1. A layer after it then acts on the
// normalised values themselves (Rasmus et al. 2015 add their noise there, before any scale).
#include "gradflow/layer.h"

namespace gradflow {

template <typename Scalar>
class BatchNorm : public Layer<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;
  using Row = RowVectorT<Scalar>;

  BatchNorm(int64_t features, double eps, double momentum, bool affine = true);
  BatchNorm(const nlohmann::json& args, int64_t input)
      : BatchNorm(input, args.at("eps").get<double>(), args.at("momentum").get<double>(),
                  args.value("affine", true)) {}

  std::string type() const override { return "batch_norm"; }
  LayerFormulas formulas() const override;
  int64_t input_size() const override { return features_; }
  int64_t output_size() const override { return features_; }

  void initialize(std::mt19937_64& rng) override;
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;
  std::vector<TensorShape> parameter_shapes() const override {
    if (!affine_) return {};
    return {{"weight", {features_}}, {"bias", {features_}}};
  }
  std::vector<TensorView<Scalar>> buffers() override;

  const Row& running_mean() const { return running_mean_; }
  const Row& running_var() const { return running_var_; }

 protected:
  void map_parameters(Scalar* values, Scalar* gradients) override;

 private:
  using RowMap = Eigen::Map<Row>;
  int64_t features_;
  double eps_, momentum_;
  bool affine_;                                // false: γ = 1 and β = 0, not trained, not saved
  RowMap gamma_{nullptr, 0}, beta_{nullptr, 0}, gamma_grad_{nullptr, 0}, beta_grad_{nullptr, 0};  // (features)
  Row running_mean_, running_var_;             // (features)
  Scalar batches_tracked_ = 0;                 // () in PyTorch's state_dict
  Mat normalized_;                             // (B, features): x̂, cached by forward (the model keeps x, not x̂)
  Row inv_std_;                                // (features): s, cached by forward
  bool forward_in_training_ = true;            // which backward applies
};

}  // namespace gradflow
