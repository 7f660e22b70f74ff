#pragma once
// The fused softmax-cross-entropy head, with an optional temperature T (z is used as z / T) and
// optional label smoothing e (the target is q = (1 - e)·onehot(y) + e/C, as in PyTorch).
//   z: (B, C) logits, y: (B) labels
//   loss  = mean_b [ logsumexp(z_b / T) - sum_k q_k z_{b,k} / T ]     (max subtracted: stable)
//         = mean_b [ logsumexp(z_b / T) - z_{b,y_b} / T ]              when e = 0
//   dL/dz = (softmax(z / T) - q) / (B T)                               (written directly)
// This is the only place that divides by the batch size.
// With a LabelMix (training.mixup, train/mixup.h) each row has two labels y and y' and a weight λ:
// the target is λ·q(y) + (1 − λ)·q(y'), and since the cross-entropy is linear in its target the
// loss is λ·CE(z, y) + (1 − λ)·CE(z, y') and the gradient softmax(z / T) minus that target.
#include <vector>

#include "gradflow/option_schema.h"
#include "gradflow/tensor.h"

namespace gradflow {

// The head of a config's model.head: its type name, what it does, and its options, declared once
// (the model checks a config against them, `gradflow layers` lists them).
constexpr const char* kSoftmaxCrossEntropy = "softmax_cross_entropy";
const char* softmax_cross_entropy_help();
const std::vector<OptionSpec>& softmax_cross_entropy_options();

// A second label per row and the first label's weight λ in [0, 1] (mixup's mixed target).
struct LabelMix {
  const Labels* partner = nullptr;  // y': (B); null: no mix, the target is q(y)
  double weight = 1.0;              // λ
  bool mixed() const { return partner != nullptr; }
};

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
  // Throws InputError for a label outside [0, C). With `mix`, q is the mixed target and a row
  // counts as correct when its argmax is the label of the larger weight: y when λ >= 0.5, else y'.
  double forward(const Eigen::Ref<const Mat>& logits, const Eigen::Ref<const Labels>& labels, const LabelMix& mix = {});
  // dlogits: (B, C) <- (softmax(z / T) - q) / (B T)
  void backward(Mat& dlogits) const;
  // After forward, each sample's own gradient before the mean divides it by B:
  // dlogits: (B, C) <- dL_b/dz_b = (softmax(z_b / T) - q_b) / T   (backward is this / B)
  void sample_gradients(Mat& dlogits) const;
  // After forward, the targets q: (B, C) = (1 - e) onehot(y) + e / C (mixed: λ q(y) + (1 − λ) q(y')).
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
  // Calls hit(b, k, share) for each label k of row b with its share of the target beyond e / C
  template <typename Hit>
  void for_each_label(Hit hit) const;

  Mat probabilities_;              // (B, C): cached by forward, the gradient is built from it
  Labels labels_;                  // (B): cached by forward for the one-hot
  Labels partner_labels_;          // (B): y', cached by a mixed forward
  bool mixed_ = false;             // the latest forward had a LabelMix
  double mix_weight_ = 1.0;        // its λ
  Eigen::VectorXd sample_losses_;  // (B)
  int64_t correct_ = 0;
};

}  // namespace gradflow
