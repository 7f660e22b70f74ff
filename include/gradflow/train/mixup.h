#pragma once
// training.mixup: mixup (Zhang, Cissé, Dauphin and Lopez-Paz 2018, "mixup: Beyond empirical risk
// minimization"). Each step draws one λ ~ Beta(α, α) and one permutation π of the batch's rows,
// and trains on the batch blended with that shuffled copy of itself, as the paper's
// implementation does:
//   x̃ = λ·x + (1 − λ)·x[π],   J̃ = λ·CE(z, y) + (1 − λ)·CE(z, y[π]),   z = f(x̃)
// The cross-entropy is linear in its target, so J̃ is the cross-entropy against the mixed target
// λ·q(y) + (1 − λ)·q(y[π]) (q: the head's target, label smoothing included) and the head's
// gradient is softmax(z) minus that target, divided by the batch once, in the head (LabelMix in
// softmax_cross_entropy.h). The logged training loss is J̃; a row counts as correct when its
// argmax is the label of the larger weight (y when λ ≥ 0.5, else y[π]).
//
// The draws come from a generator of mixup's own, seeded from the run's seed on a stream apart
// from the initialisation's, the shuffle's and the layers' (which share the run's generator), so
// that turning mixup on changes neither the initial weights nor the order of the batches. Its
// state is saved in last.safetensors and restored on resume. Data-parallel ranks all draw λ and π
// for the whole global batch and each gathers the partner rows of its own rows: N ranks train on
// the mix one process would.
#include <cstdint>
#include <string>
#include <vector>

#include "gradflow/config.h"
#include "gradflow/data/batcher.h"
#include "gradflow/kernels/mersenne_twister.h"
#include "gradflow/softmax_cross_entropy.h"

namespace gradflow {

class Mixup {
 public:
  // `run_seed`: the config's seed, from which the generator's own seed is derived.
  Mixup(MixupOptions options, uint64_t run_seed);

  // Draws λ and π for batch b of `batcher` (all of its rows), gathers the partners x[π], y[π] of
  // its rows [first_row, end_row) — the rows x holds — and blends x in place: x ← λ·x + (1 − λ)·x[π].
  // x: (end_row − first_row, features). labels() is then the head's mixed target for these rows.
  void mix(const Batcher& batcher, int64_t b, int64_t first_row, int64_t end_row, Matrix& x);
  LabelMix labels() const { return {&partner_labels_, lambda_}; }

  // The pieces of mix(): λ and a permutation π of [0, rows), drawn in that order ...
  void draw(int64_t rows);
  double lambda() const { return lambda_; }
  const std::vector<int64_t>& permutation() const { return permutation_; }
  // ... and the blend. x: (B, features) ← λ·x + (1 − λ)·partner, partner: (B, features)
  static void blend(double lambda, const Eigen::Ref<const Matrix>& partner, Matrix& x);

  // λ ~ Beta(α, α) = X / (X + Y) with X, Y ~ Gamma(α). Each gamma is drawn as its logarithm, from
  // Gamma(α) = Gamma(α + 1)·U^(1/α) (U uniform on (0, 1]; Marsaglia and Tsang 2000): at a small α
  // X and Y themselves underflow to 0 and X / (X + Y) would be 0/0. Gamma(α + 1) is
  // std::gamma_distribution's, so λ for a seed is the same with one standard library, not
  // across libraries.
  static double draw_beta(double alpha, MersenneTwister64& rng);

  const MixupOptions& options() const { return options_; }
  // The generator's state, for last.safetensors (the text of MersenneTwister64::state), and back.
  std::string random_state() const { return rng_.state(); }
  void set_random_state(const std::string& state) { rng_.set_state(state, "training.mixup"); }

 private:
  MixupOptions options_;
  MersenneTwister64 rng_;
  double lambda_ = 1.0;
  std::vector<int64_t> permutation_;  // π over the whole batch's rows: partner of row r is row π[r]
  Matrix partner_inputs_;             // (B, features): x[π] of the rows mixed last
  Labels partner_labels_;             // (B): y[π]
};

}  // namespace gradflow
