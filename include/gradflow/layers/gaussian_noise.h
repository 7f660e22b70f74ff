#pragma once
// Additive Gaussian noise (Rasmus et al. 2015 put it on every layer's input of an MLP): in
// training, each entry gets its own standard normal draw n, scaled by σ; eval mode is the identity.
//   forward:  y = x + σ·n,  n ~ N(0, 1)      backward:  dx = dy   (the noise does not depend on x)
// The noise is defined draw by draw: one 64-bit number r of the layer's mt19937_64 gives a pair by
// Box–Muller, with u1 = ((r >> 40) + 1)·2^-24 in (0, 1] and u2 = ((r >> 16) mod 2^24)·2^-24 in [0, 1):
//   n_even = √(−2 ln u1)·cos(2π u2),  n_odd = √(−2 ln u1)·sin(2π u2)   (computed in float)
// Entry i of the global batch (row-major) takes pair ⌊i/2⌋, the cosine for even i; each training
// forward uses ⌈B·size/2⌉ numbers. The generator is seeded from the model's in initialize().
#include <cstdint>

#include "gradflow/kernels/mersenne_twister.h"
#include "gradflow/layers/activation.h"

namespace gradflow {

// Fills out[0, 2·pairs) with `pairs` Box–Muller pairs as defined above, drawing `pairs` numbers
// from `generator` (std::mt19937_64's sequence). Vectorised (Eigen's float log, sin and cos).
void draw_normal_pairs(MersenneTwister64& generator, int64_t pairs, float* out);

template <typename Scalar>
class GaussianNoise : public Activation<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  GaussianNoise(int64_t size, double std) : Activation<Scalar>(size), std_(std) {}
  GaussianNoise(const nlohmann::json& args, int64_t input) : GaussianNoise(input, args.at("std").get<double>()) {}

  std::string type() const override { return "gaussian_noise"; }
  LayerFormulas formulas() const override;
  bool deterministic_in_training() const override { return std_ == 0.0; }
  void initialize(std::mt19937_64& rng) override { noise_.seed(rng()); }
  std::string random_state() const override { return noise_.state(); }
  void set_random_state(const std::string& state) override { noise_.set_state(state, "gaussian_noise"); }
  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override;

 private:
  double std_;
  // std::mt19937_64's numbers, drawn a block at a time; nothing is cached for backward (dx = dy)
  MersenneTwister64 noise_;
};

}  // namespace gradflow
