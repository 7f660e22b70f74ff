#pragma once
// Inverted dropout, like nn.Dropout(p): in training, each unit is kept with probability 1 − p
// and scaled by 1/(1 − p), so eval mode is the identity.
//   forward:  y = x · m,  m = 1[u ≥ p] / (1 − p)      backward:  dx = dy · m
// The mask generator is seeded from the model's generator in initialize().
#include "gradflow/kernels/mersenne_twister.h"
#include "gradflow/layers/activation.h"

namespace gradflow {

template <typename Scalar>
class Dropout : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  Dropout(int64_t size, double p) : Activation<Scalar>(size), p_(p) {}
  Dropout(const nlohmann::json& args, int64_t input) : Dropout(input, args.at("p").get<double>()) {}

  std::string type() const override { return "dropout"; }
  LayerFormulas formulas() const override;
  bool deterministic_in_training() const override { return p_ == 0.0; }
  void initialize(std::mt19937_64& rng) override { masks_.seed(rng()); }
  std::string random_state() const override { return masks_.state(); }
  void set_random_state(const std::string& state) override { masks_.set_state(state, "dropout"); }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;

  const Mat& mask() const { return mask_; }

 private:
  double p_;
  MersenneTwister64 masks_;  // std::mt19937_64's numbers, drawn a block at a time
  Mat mask_;  // (B, size): cached by forward in training, 0 or 1/(1 − p)
};

}  // namespace gradflow
