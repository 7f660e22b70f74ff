#pragma once
// The fused softmax-cross-entropy head, with an optional temperature T (z is used as z / T).
//   z: (B, C) logits, y: (B) labels
//   loss  = mean_b [ logsumexp(z_b / T) - z_{b,y_b} / T ]           (max subtracted: stable)
//   dL/dz = (softmax(z / T) - onehot(y)) / (B T)                       (written directly)
// This is the only place that divides by the batch size.
#include "gradflow/tensor.h"

namespace gradflow {

template <typename Scalar>
class SoftmaxCrossEntropy {
 public:
  using Mat = MatrixT<Scalar>;

  explicit SoftmaxCrossEntropy(double temperature = 1.0) { set_temperature(temperature); }

  double temperature() const { return temperature_; }
  void set_temperature(double temperature);

  // Returns the mean loss over the batch; caches softmax(z / T) and the labels for backward.
  // Throws InputError for a label outside [0, C).
  double forward(const Eigen::Ref<const Mat>& logits, const Eigen::Ref<const Labels>& labels);
  // dlogits: (B, C) <- (softmax(z / T) - onehot(y)) / (B T)
  void backward(Mat& dlogits) const;

  // After forward: softmax(z / T), (B, C); per-sample losses, (B); correct predictions.
  const Mat& probabilities() const { return probabilities_; }
  const Eigen::VectorXd& sample_losses() const { return sample_losses_; }
  int64_t correct() const { return correct_; }

 private:
  double temperature_ = 1.0;
  Mat probabilities_;              // (B, C): cached by forward, the gradient is built from it
  Labels labels_;                  // (B): cached by forward for the one-hot
  Eigen::VectorXd sample_losses_;  // (B)
  int64_t correct_ = 0;
};

}  // namespace gradflow
