#include "gradflow/softmax_cross_entropy.h"

#include <cmath>
#include <string>

#include "gradflow/errors.h"
#include "gradflow/softmax.h"

namespace gradflow {

const char* softmax_cross_entropy_help() {
  return "softmax(z / T) and cross-entropy with the (smoothed) target q";
}

const std::vector<OptionSpec>& softmax_cross_entropy_options() {
  // z / T with T of 1e-300 or 1e308 is inf or 0 for every logit
  static const std::vector<OptionSpec> options{
      {"temperature", OptionSpec::Number, 1.0, {1e-3, 1e3}, "T: the logits are divided by it", {}},
      {"label_smoothing", OptionSpec::Number, 0.0, {0, 1, false, true},
       "e: the target is (1 - e) onehot(y) + e / C, as in PyTorch", {}}};
  return options;
}

template <typename Scalar>
SoftmaxCrossEntropy<Scalar>::SoftmaxCrossEntropy(double temperature, double label_smoothing) {
  set_temperature(temperature);
  set_label_smoothing(label_smoothing);
}

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::set_label_smoothing(double label_smoothing) {
  if (!(label_smoothing >= 0.0 && label_smoothing < 1.0)) {
    throw InputError("label smoothing must lie in [0, 1), got " + std::to_string(label_smoothing));
  }
  label_smoothing_ = label_smoothing;
}

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::set_temperature(double temperature) {
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    throw InputError("temperature must be a finite number > 0, got " + std::to_string(temperature));
  }
  temperature_ = temperature;
}

namespace {
void check_label(int y, Eigen::Index classes) {
  if (y < 0 || y >= classes) {
    throw InputError("label " + std::to_string(y) + " is outside [0, " + std::to_string(classes) + ")");
  }
}
}  // namespace

template <typename Scalar>
double SoftmaxCrossEntropy<Scalar>::forward(const Eigen::Ref<const Mat>& logits, const Eigen::Ref<const Labels>& labels,
                                            const LabelMix& mix) {
  const Eigen::Index batch = logits.rows(), classes = logits.cols();
  const Scalar inv_t = static_cast<Scalar>(1.0 / temperature_);
  mixed_ = mix.mixed();
  if (mixed_) {
    if (!(mix.weight >= 0.0 && mix.weight <= 1.0)) {
      throw InputError("the mixed target's weight must lie in [0, 1], got " + std::to_string(mix.weight));
    }
    if (mix.partner->size() != labels.size()) {
      throw InputError("a mixed target needs one second label per row: got " + std::to_string(mix.partner->size()) +
                       " for " + std::to_string(labels.size()) + " rows");
    }
    partner_labels_ = *mix.partner;
  }
  mix_weight_ = mixed_ ? mix.weight : 1.0;
  probabilities_.resize(batch, classes);
  sample_losses_.resize(batch);
  labels_ = labels;
  correct_ = 0;
  double total = 0.0;
  for (Eigen::Index b = 0; b < batch; ++b) {
    const int y = labels[b];
    check_label(y, classes);
    const int partner = mixed_ ? partner_labels_[b] : y;
    if (mixed_) check_label(partner, classes);
    const LogSumExp<Scalar> row = softmax(logits.row(b), inv_t, probabilities_.row(b));
    // loss = logsumexp(z/T) - sum_k q_k z_k/T = log s + sum_k q_k (max - z_k)/T; every term >= 0
    double gap = static_cast<double>(row.max - logits(b, y));
    if (mixed_) gap = mix_weight_ * gap + (1.0 - mix_weight_) * static_cast<double>(row.max - logits(b, partner));
    if (label_smoothing_ > 0.0) {
      const double mean_gap = static_cast<double>(row.max) - static_cast<double>(logits.row(b).template cast<double>().mean());
      gap = (1.0 - label_smoothing_) * gap + label_smoothing_ * mean_gap;
    }
    const double loss = row.log_sum + gap * static_cast<double>(inv_t);
    sample_losses_[b] = loss;
    total += loss;
    // mixed: the label of the larger weight is the one to predict
    correct_ += (row.argmax == (mix_weight_ >= 0.5 ? y : partner)) ? 1 : 0;
  }
  return batch > 0 ? total / static_cast<double>(batch) : 0.0;
}

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::backward(Mat& dlogits) const {
  // dL/dz = (softmax(z/T) - q) / (B T),  q = (1 - e) onehot(y) + e/C
  scaled_gradient(dlogits, 1.0 / (static_cast<double>(probabilities_.rows()) * temperature_));
}

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::sample_gradients(Mat& dlogits) const {
  scaled_gradient(dlogits, 1.0 / temperature_);
}

template <typename Scalar>
template <typename Hit>
void SoftmaxCrossEntropy<Scalar>::for_each_label(Hit hit) const {
  // q = (1 - e) onehot(y) + e/C, or mixed (1 - e) (λ onehot(y) + (1 - λ) onehot(y')) + e/C
  const Eigen::Index batch = probabilities_.rows();
  if (!mixed_) {
    const Scalar share = static_cast<Scalar>(1.0 - label_smoothing_);
    for (Eigen::Index b = 0; b < batch; ++b) hit(b, labels_[b], share);
    return;
  }
  const Scalar own = static_cast<Scalar>((1.0 - label_smoothing_) * mix_weight_);
  const Scalar other = static_cast<Scalar>((1.0 - label_smoothing_) * (1.0 - mix_weight_));
  for (Eigen::Index b = 0; b < batch; ++b) {
    hit(b, labels_[b], own);
    hit(b, partner_labels_[b], other);
  }
}

template <typename Scalar>
typename SoftmaxCrossEntropy<Scalar>::Mat SoftmaxCrossEntropy<Scalar>::targets() const {
  const Eigen::Index batch = probabilities_.rows(), classes = probabilities_.cols();
  Mat q = Mat::Constant(batch, classes, static_cast<Scalar>(label_smoothing_ / static_cast<double>(classes)));
  for_each_label([&](Eigen::Index b, int k, Scalar share) { q(b, k) += share; });
  return q;
}

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::scaled_gradient(Mat& dlogits, double scale_by) const {
  const Eigen::Index batch = probabilities_.rows();
  const Scalar scale = static_cast<Scalar>(scale_by);
  dlogits.resize(batch, probabilities_.cols());
  if (label_smoothing_ > 0.0) {
    dlogits = probabilities_.array() - static_cast<Scalar>(label_smoothing_ / static_cast<double>(probabilities_.cols()));
  } else {
    dlogits = probabilities_;
  }
  for_each_label([&](Eigen::Index b, int k, Scalar share) { dlogits(b, k) -= share; });
  dlogits *= scale;
}

template class SoftmaxCrossEntropy<float>;
template class SoftmaxCrossEntropy<double>;

}  // namespace gradflow
