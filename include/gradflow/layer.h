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
//
// Parameters live in one block per model (llm.c's params_memory / grads_memory): a layer
// declares its trained tensors in parameter_shapes(), and Sequential allocates one contiguous
// buffer of values and one of gradients for all its layers and binds each layer to its slice.
// A layer reaches its tensors through views (Eigen::Map) that map_parameters() re-points
// whenever the storage moves. A layer built on its own (a test, a benchmark) owns a private
// block until a model binds it. Buffers (batch norm's running statistics) stay with the layer.
#include "gradflow/eigen.h"
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gradflow/distributed/batch_shard.h"
#include "gradflow/tensor.h"

namespace gradflow {

// What a gating layer (ReLU) can say about a batch it has seen: how many entries of its output
// pass no gradient back whatever dy is (ReLU: y = 0), and the fraction of its units that pass
// none for any sample of the batch ("dead" on this batch). Negative: the layer has no gates.
struct GateStatistics {
  int64_t blocked = -1;
  double dead_fraction = -1;
};

// A layer's math in text, as `gradflow step` prints it: how y comes from x, and how backward
// forms dx (and its parameters' gradients) from dy. Lines are separated by '\n'.
struct LayerFormulas {
  std::string forward;
  std::string backward;
};
// What a layer without its own formulas (a plugin's) says.
inline LayerFormulas generic_layer_formulas() { return {"y = f(x)", "dx = (∂f/∂x)ᵀ dy"}; }

template <typename Scalar>
class Layer {
 public:
  using Mat = MatrixT<Scalar>;
  using ConstRef = Eigen::Ref<const Mat>;

  Layer() = default;
  // Views point into storage the layer may not own: a layer is neither copied nor moved (models
  // hold layers through unique_ptr).
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  virtual ~Layer() = default;

  // The registered type name, e.g. "dense".
  virtual std::string type() const = 0;
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

  // The layer's forward and backward as text (gradflow step); generic unless the layer says.
  virtual LayerFormulas formulas() const { return generic_layer_formulas(); }

  // Draws fresh parameters (a seeded generator makes runs reproducible).
  virtual void initialize(std::mt19937_64& /*rng*/) {}

  // The trained tensors, in order, named like PyTorch's ("weight", "bias"); none by default.
  // Their storage is one block: the tensors one after another in this order, each row-major.
  virtual std::vector<TensorShape> parameter_shapes() const { return {}; }
  // Scalars in the block: the sum of the shapes' sizes.
  int64_t parameter_count() const {
    int64_t n = 0;
    for (const TensorShape& s : parameter_shapes()) n += s.size();
    return n;
  }
  // Moves the parameters into `values` and their gradients into `gradients`, parameter_count()
  // scalars each, which the caller keeps alive as long as the layer uses them: the current
  // values and gradients are copied over, the private block (if any) is freed, and
  // map_parameters() re-points the layer's views.
  void bind_parameters(Scalar* values, Scalar* gradients) {
    const int64_t n = parameter_count();
    if (n > 0 && values_ != nullptr && values != values_) {
      std::copy(values_, values_ + n, values);
      std::copy(gradients_, gradients_ + n, gradients);
    }
    own_values_ = {};
    own_gradients_ = {};
    values_ = values;
    gradients_ = gradients;
    map_parameters(values_, gradients_);
  }
  // Trained tensors (name, value, gradient) as views into the block: what the optimizer updates.
  std::vector<TensorView<Scalar>> parameters() {
    std::vector<TensorView<Scalar>> views;
    int64_t offset = 0;
    for (TensorShape& s : parameter_shapes()) {
      const int64_t n = s.size();
      views.push_back({std::move(s.name), std::move(s.shape), values_ + offset, gradients_ + offset});
      offset += n;
    }
    return views;
  }
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

  // Data-parallel training: which rows of the global batch the next forward sees
  // (distributed/batch_shard.h). Sequential sets it before each training step; a layer that
  // reads across the batch (batch norm) or draws per row (dropout) reads it in forward, so that
  // N ranks compute what one process would. Others ignore it.
  void set_batch_shard(const BatchShard& shard) { shard_ = shard; }
  const BatchShard& batch_shard() const { return shard_; }

 protected:
  // For the constructor of a layer with parameters, once parameter_shapes() can answer: gives
  // the layer a private block of zeros, used until a model binds it, and maps it.
  void allocate_parameters() {
    const auto n = static_cast<size_t>(parameter_count());
    own_values_.assign(n, Scalar(0));
    own_gradients_.assign(n, Scalar(0));
    values_ = own_values_.data();
    gradients_ = own_gradients_.data();
    map_parameters(values_, gradients_);
  }
  // Points the layer's views at its parameters: `values` and `gradients` are laid out as
  // parameter_shapes() says. Called by allocate_parameters() and bind_parameters(); a layer
  // with parameters overrides it (rebinding an Eigen::Map is done with placement new).
  virtual void map_parameters(Scalar* /*values*/, Scalar* /*gradients*/) {}

  bool training_ = true;
  BatchShard shard_;

 private:
  std::vector<Scalar, Eigen::aligned_allocator<Scalar>> own_values_, own_gradients_;  // until bound
  Scalar* values_ = nullptr;
  Scalar* gradients_ = nullptr;
};

}  // namespace gradflow
