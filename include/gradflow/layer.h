#pragma once
// The Layer interface: every layer, activations included, implements forward and backward by hand.
//
// Gradient rule: backward() OVERWRITES the layer's parameter gradients (one backward per step,
// no zeroing needed) and writes the gradient with respect to its input into `dx`.
// Only the loss head divides by the batch size; layers never do.
//
// Activations: the model keeps every layer's input and output (Sequential holds each output, and
// a view of its own input), and hands them back to backward, as mlpack's Backward(input, output,
// gy, g) does. A layer therefore never copies x or y; it caches only what the model does not
// keep (dropout's mask, batch norm's batch statistics).
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

// What a gating layer (ReLU) can say about a batch it has seen: how many entries of its output
// pass no gradient back whatever dy is (ReLU: y = 0), and the fraction of its units that pass
// none for any sample of the batch ("dead" on this batch). Negative: the layer has no gates.
struct GateStatistics {
  int64_t blocked = -1;
  double dead_fraction = -1;
};

template <typename Scalar>
class Layer {
 public:
  using Mat = MatrixT<Scalar>;
  using ConstRef = Eigen::Ref<const Mat>;

  virtual ~Layer() = default;

  // The registered type name, e.g. "dense".
  virtual std::string type() const = 0;
  // The layer's configuration as it appears in a config file (type included).
  virtual nlohmann::json describe() const = 0;
  virtual int64_t input_size() const = 0;
  virtual int64_t output_size() const = 0;

  // x: (B, in) -> y: (B, out). Caches only what backward needs and cannot get from x and y.
  virtual void forward(const ConstRef& x, Mat& y) = 0;
  // x: (B, in) and y: (B, out), the input and output of the latest forward, unchanged since;
  // dy: (B, out) -> dx: (B, in); pass dx = nullptr when the input gradient is not needed.
  // Overwrites parameter gradients.
  virtual void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) = 0;

  // Floating-point operations of one forward on `rows` samples, counting a multiply-add as 2
  // (dense: 2·rows·in·out); 0 for layers whose cost is element-wise, not counted by `bench`.
  virtual double forward_flop(int64_t /*rows*/) const { return 0.0; }
  // x, y: a forward's input and output (B, in), (B, out), as backward receives them.
  virtual GateStatistics gate_statistics(const ConstRef& /*x*/, const ConstRef& /*y*/) const { return {}; }

  // Draws fresh parameters (a seeded generator makes runs reproducible).
  virtual void initialize(std::mt19937_64& /*rng*/) {}

  // Trained tensors (name, value, gradient): what the optimizer updates.
  virtual std::vector<TensorView<Scalar>> parameters() { return {}; }
  // Non-trained state saved in checkpoints (gradient is null).
  virtual std::vector<TensorView<Scalar>> buffers() { return {}; }

  // False for layers whose training-mode forward is random (dropout): finite-difference checks
  // then run in eval mode.
  virtual bool deterministic_in_training() const { return true; }

  // The state of a layer's own random generator (dropout), as text, so an interrupted run can
  // resume exactly; empty for layers without one.
  virtual std::string random_state() const { return {}; }
  virtual void set_random_state(const std::string& /*state*/) {}

  // Train or eval mode (dropout, batch norm); most layers ignore it.
  virtual void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }

 protected:
  bool training_ = true;
};

}  // namespace gradflow
