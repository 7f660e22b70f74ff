#pragma once
// One training step, recorded stage by stage so it can be studied:
//   forward through every layer -> logits z -> softmax y_hat -> loss -> delta = (y_hat - q) / T
//   -> backward through every layer in reverse -> saliency dL/dx -> the optimizer's update -> loss again.
// Everything is measured from the model itself; the views (terminal, JSON) only present it.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gradflow/gradcheck.h"
#include "gradflow/model.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/weight_trace.h"

namespace gradflow {

struct TensorSummary {
  std::vector<int64_t> shape;
  double norm = 0, min = 0, mean = 0, max = 0;
  std::vector<float> values;  // row-major, filled only when asked for every value
};
TensorSummary summarize(const float* data, std::vector<int64_t> shape, bool keep_values);

struct Entry {
  int64_t row = 0, col = 0;  // col = -1 for vectors
  float value = 0;
};

struct ForwardStage {
  size_t layer = 0;
  std::string type;
  std::string formula;  // the layer's forward, as it states it (Layer::formulas)
  TensorSummary output;
  double zero_fraction = -1;  // a gate (ReLU): fraction of outputs that pass no gradient (y = 0)
};

struct ParameterGradient {
  std::string name;  // "0.weight"
  TensorSummary gradient;
  std::vector<Entry> largest;  // by magnitude
};

struct BackwardStage {
  size_t layer = 0;
  std::string type;
  std::string formula;                     // the layer's backward, as it states it (Layer::formulas)
  TensorSummary delta;                     // dL/d(output of the layer), entering it
  std::vector<ParameterGradient> parameters;
  TensorSummary passed_down;               // dL/d(input of the layer)
  int64_t passed = -1, blocked = -1;       // a gate (ReLU): gradient entries let through / stopped
};

struct ParameterUpdate {
  std::string name;
  std::vector<int64_t> shape;
  double weight_norm = 0;    // ||W|| before the update
  double delta_norm = 0;     // ||W_after - W_before||
  // The optimizer's state tensors of this parameter after the update (SGD: momentum; Adam:
  // exp_avg, exp_avg_sq), in the optimizer's order; values kept only when asked for every value.
  std::vector<std::pair<std::string, TensorSummary>> state;
  std::vector<float> before, after;  // the parameter's values, kept only when asked for every value
};

struct StepTrace {
  int64_t count = 0;
  std::vector<int64_t> indices;  // sample indices in the split
  Labels labels;
  Matrix inputs;  // (K, features)
  std::vector<ForwardStage> forward;
  // (K, C). delta: each sample's gradient dL_b/dz_b = (y_hat - q) / T exactly as the head writes
  // it, before the mean's 1/B (the head passes delta / B back); q: the targets
  // (1 - e) onehot(y) + e / C, the one-hot y when e = 0.
  Matrix logits, probabilities, delta, targets;
  // Each sample's loss L_b (the batch loss is their mean), in two forms computed independently:
  std::vector<double> loss_negative_log;   // -Σ_k q_k log y_hat_k      (-log y_hat_y when e = 0)
  std::vector<double> loss_logsumexp;      // logsumexp(z/T) - Σ_k q_k z_k / T
  std::vector<double> loss_per_sample;     // the head's own L_b
  double loss = 0;                         // mean over the batch
  double temperature = 1;
  double label_smoothing = 0;              // e: the target is q = (1 - e)·onehot(y) + e/C (q = onehot(y) at 0)
  std::vector<BackwardStage> backward;     // in reverse layer order
  Matrix saliency;                         // dL/dx, (K, features)
  double learning_rate = 0;
  nlohmann::json optimizer;                  // its type and resolved options
  std::vector<std::string> optimizer_formula;  // the update rule, a line each
  std::vector<std::pair<std::string, double>> optimizer_terms;  // the scalars this update used (Adam: t, ...)
  bool state_was_empty = true;               // every state tensor was zero: the optimizer's first step
  std::vector<std::string> state_symbols;    // the state tensors as the formula names them ("m", "v")
  std::vector<ParameterUpdate> updates;
  Matrix probabilities_after;
  std::vector<double> loss_after_per_sample;
  double loss_after = 0;
  std::optional<GradCheckResult> check;
  std::optional<WeightDrill> weight;

  // Full vectors of logits, y_hat, y, delta per sample (and the smoothed target q when the head
  // smooths); every tensor's shape and norm (and with `full`, every value and the check's entries).
  nlohmann::json to_json(bool full) const;
};

struct StepOptions {
  double learning_rate = 0.1;
  bool keep_values = false;              // keep every value of every tensor (for --full)
  std::optional<GradCheckOptions> check;  // also run a finite-difference check
  int64_t largest_entries = 5;
  std::optional<WeightEntry> weight;      // also follow this entry (InputError if the model has none such)
};

// What one of several consecutive steps did (gradflow step --steps N).
struct StepSummary {
  int64_t step = 0;  // 1, 2, ...
  double loss_before = 0, loss_after = 0;
  std::vector<double> y_hat_y;  // ŷ of each sample's label, before the step
  struct Tensor {
    std::string name;
    double gradient_norm = 0;  // ‖∂L/∂W‖
    double relative_update = 0;  // ‖ΔW‖ / ‖W‖
  };
  std::vector<Tensor> tensors;
  nlohmann::json to_json() const;
};
StepSummary summarize_step(const StepTrace& trace, int64_t step);

// Runs one training step of `model` on (x, labels) with `optimizer`, recording every stage.
// The model and optimizer are updated as a real step would.
StepTrace trace_step(Sequential<float>& model, Optimizer& optimizer, const Matrix& x, const Labels& labels,
                     const StepOptions& options);

}  // namespace gradflow
