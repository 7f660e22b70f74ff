#pragma once
// Sequential: owns its layers and the head, runs forward and backward through them, and names
// tensors like PyTorch's nn.Sequential state_dict ("0.weight", "0.bias", "2.weight", ...).
// It owns every parameter in one contiguous block, and every gradient in another, laid out in
// parameters() order; each layer's tensors are views into them (layer.h).
//
// A model spec is JSON:
//   {"input": 784, "layers": [{"type": "dense", "units": 512}, {"type": "relu"}, ...],
//    "head": {"type": "softmax_cross_entropy", "temperature": 1.0}}
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "gradflow/layer.h"
#include "gradflow/softmax_cross_entropy.h"

namespace gradflow {

// Validates a model spec at `path` (layers through the registry); returns it with defaults filled.
// Nothing is allocated; a model past kMaxModelWeights is refused.
nlohmann::json resolve_model_spec(const nlohmann::json& spec, const std::string& path = "/model");
inline constexpr int64_t kMaxModelWeights = int64_t(1) << 26;  // 64 Mi: 256 MB of float weights
// The number of classes a resolved spec outputs.
int64_t model_output_size(const nlohmann::json& resolved_spec);

template <typename Scalar>
class Sequential {
 public:
  using Mat = MatrixT<Scalar>;
  // A view of a matrix the model does not own (its input): row-major, any row stride.
  using ConstView = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;

  // Builds the layers of a resolved spec and binds them to the blocks (parameters still zero, or
  // a layer's constructor defaults: call initialize or load).
  explicit Sequential(const nlohmann::json& resolved_spec);
  // Moving keeps every view valid: the blocks' storage moves with the model, it is not copied.
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  nlohmann::json describe() const;  // the resolved spec
  int64_t input_size() const { return input_size_; }
  int64_t classes() const;
  size_t size() const { return layers_.size(); }
  Layer<Scalar>& layer(size_t i) { return *layers_[i]; }
  SoftmaxCrossEntropy<Scalar>& head() { return head_; }

  void initialize(std::mt19937_64& rng);
  void set_training(bool training);
  // Data-parallel training: the rows of the global batch the next forward sees, for every layer
  // (Layer::set_batch_shard).
  void set_batch_shard(const BatchShard& shard) {
    for (auto& layer : layers_) layer->set_batch_shard(shard);
  }

  // x: (B, input) -> logits: (B, classes). Keeps every layer's output (see output(i)) and a view
  // of x, not a copy, for the first layer's backward: x must stay alive and unchanged until
  // backward (pass a matrix or a block of rows of one; an expression would be a temporary).
  const Mat& forward(const Eigen::Ref<const Mat>& x);
  // Forward, then the head's loss on `labels` (with `mix`, on the mixed target); returns the mean loss.
  double forward_loss(const Eigen::Ref<const Mat>& x, const Eigen::Ref<const Labels>& labels, const LabelMix& mix = {});
  // After forward_loss: the head's gradient, then every layer in reverse. Overwrites all
  // parameter gradients; writes dL/dx: (B, input) when `input_gradient` is not null.
  void backward(Mat* input_gradient = nullptr);

  // Observes forward and backward stage by stage (gradflow bench --stages times the step with
  // it): called after each layer's forward and backward, and after the head's, which counts as
  // layer size(). Unset (the default), it costs one branch per layer.
  enum class Pass { Forward, Backward };
  using StageHook = std::function<void(size_t layer, Pass pass)>;
  void set_stage_hook(StageHook hook) { stage_hook_ = std::move(hook); }

  ConstView input(size_t i) const;                                     // layer i's input
  const Mat& output(size_t i) const { return outputs_[i]; }            // layer i's output
  const Mat& gradient_into(size_t i) const { return gradients_[i]; }  // dL/d(output of layer i)

  // Trained tensors and saved state, named "<layer index>.<name>"; the trained tensors are views
  // into the blocks below, one after another.
  std::vector<TensorView<Scalar>> parameters();
  std::vector<TensorView<Scalar>> buffers();

  // Every parameter, and every gradient, as one vector: an optimizer's update can be one pass,
  // a cross-process reduction of the gradients one call. Their sizes never change.
  using Block = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
  using ConstBlock = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
  Block parameter_block() { return Block(parameter_block_.data(), static_cast<Eigen::Index>(parameter_block_.size())); }
  Block gradient_block() { return Block(gradient_block_.data(), static_cast<Eigen::Index>(gradient_block_.size())); }
  ConstBlock parameter_block() const {
    return ConstBlock(parameter_block_.data(), static_cast<Eigen::Index>(parameter_block_.size()));
  }
  ConstBlock gradient_block() const {
    return ConstBlock(gradient_block_.data(), static_cast<Eigen::Index>(gradient_block_.size()));
  }

 private:
  int64_t input_size_;
  // the latest forward's input x: (B, input), viewed (see forward)
  const Scalar* input_data_ = nullptr;
  Eigen::Index input_rows_ = 0, input_stride_ = 0;
  // the blocks the layers' parameters and gradients live in (moved, never reallocated)
  std::vector<Scalar, Eigen::aligned_allocator<Scalar>> parameter_block_, gradient_block_;
  std::vector<std::unique_ptr<Layer<Scalar>>> layers_;
  nlohmann::json layer_specs_ = nlohmann::json::array();  // each layer's resolved spec, for describe()
  SoftmaxCrossEntropy<Scalar> head_;
  std::vector<Mat> outputs_;    // outputs_[i]: (B, out_i)
  std::vector<Mat> gradients_;  // gradients_[i]: dL/d outputs_[i]
  StageHook stage_hook_;
};

// Copies values (parameters and buffers, matched by name) from one model to another, across
// scalar types; used to study a float model in double precision.
template <typename To, typename From>
void copy_state(Sequential<From>& from, Sequential<To>& to);

}  // namespace gradflow
