#pragma once
// The fused softmax-cross-entropy head, with an optional temperature T (z is used as z / T) and
// optional label smoothing e (the target is q = (1 - e)·onehot(y) + e/C, as in PyTorch).
//   z: (B, C) logits, y: (B) labels
//   loss  = mean_b [ logsumexp(z_b / T) - sum_k q_k z_{b,k} / T ]     (max subtracted: stable)
//         = mean_b [ logsumexp(z_b / T) - z_{b,y_b} / T ]              when e = 0
//   dL/dz = (softmax(z / T) - q) / (B T)                               (written directly)
// This is the only place that divides by the batch size.
#include <vector>

#include "gradflow/option_schema.h"
#include "gradflow/tensor.h"

namespace gradflow {

// The head of a config's model.head: its type name, what it does, and its options, declared once
// (the model checks a config against them, `gradflow layers` lists them).
constexpr const char* kSoftmaxCrossEntropy = "softmax_cross_entropy";
const char* softmax_cross_entropy_help();
const std::vector<OptionSpec>& softmax_cross_entropy_options();

template <typename Scalar>
class SoftmaxCrossEntropy {
 public:
  using Mat = MatrixT<Scalar>;

  explicit SoftmaxCrossEntropy(double temperature = 1.0, double label_smoothing = 0.0);

  double temperature() const { return temperature_; }
  void set_temperature(double temperature);
  double label_smoothing() const { return label_smoothing_; }
  void set_label_smoothing(double label_smoothing);

  // Returns the mean loss over the batch; caches softmax(z / T) and the labels for backward.
  // Throws InputError for a label outside [0, C).
  double forward(const Eigen::Ref<const Mat>& logits, const Eigen::Ref<const Labels>& labels);
  // dlogits: (B, C) <- (softmax(z / T) - q) / (B T)
  void backward(Mat& dlogits) const;
  // After forward, each sample's own gradient before the mean divides it by B:
  // dlogits: (B, C) <- dL_b/dz_b = (softmax(z_b / T) - q_b) / T   (backward is this / B)
  void sample_gradients(Mat& dlogits) const;
  // After forward, the targets q: (B, C) = (1 - e) onehot(y) + e / C.
  Mat targets() const;

  // After forward: softmax(z / T), (B, C); per-sample losses, (B); correct predictions.
  const Mat& probabilities() const { return probabilities_; }
  const Eigen::VectorXd& sample_losses() const { return sample_losses_; }
  int64_t correct() const { return correct_; }

 private:
  double temperature_ = 1.0;
  double label_smoothing_ = 0.0;
  // dlogits <- (softmax(z / T) - q) * scale: the one place the gradient is written
  void scaled_gradient(Mat& dlogits, double scale) const;

  Mat probabilities_;              // (B, C): cached by forward, the gradient is built from it
  Labels labels_;                  // (B): cached by forward for the one-hot
  Eigen::VectorXd sample_losses_;  // (B)
  int64_t correct_ = 0;
};

}  // namespace gradflow
