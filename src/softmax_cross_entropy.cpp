#include "gradflow/softmax_cross_entropy.h"

#include <cmath>
#include <string>

#include "gradflow/errors.h"

namespace gradflow {

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::set_temperature(double temperature) {
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    throw InputError("temperature must be a finite number > 0, got " + std::to_string(temperature));
  }
  temperature_ = temperature;
}

template <typename Scalar>
double SoftmaxCrossEntropy<Scalar>::forward(const Eigen::Ref<const Mat>& logits,
                                            const Eigen::Ref<const Labels>& labels) {
  const Eigen::Index batch = logits.rows(), classes = logits.cols();
  const Scalar inv_t = static_cast<Scalar>(1.0 / temperature_);
  probabilities_.resize(batch, classes);
  sample_losses_.resize(batch);
  labels_ = labels;
  correct_ = 0;
  double total = 0.0;
  for (Eigen::Index b = 0; b < batch; ++b) {
    const int y = labels[b];
    if (y < 0 || y >= classes) {
      throw InputError("label " + std::to_string(y) + " is outside [0, " + std::to_string(classes) + ")");
    }
    Eigen::Index argmax = 0;
    const Scalar max = logits.row(b).maxCoeff(&argmax);
    // p = exp(z/T - max/T) / sum; every exponent is <= 0, so nothing overflows
    auto p = probabilities_.row(b);
    p = ((logits.row(b).array() - max) * inv_t).exp().matrix();
    const Scalar sum = p.sum();  // >= 1: the max term contributes exp(0)
    p /= sum;
    // loss = logsumexp(z/T) - z_y/T = log(sum) + (max - z_y)/T; both terms >= 0
    const double loss = std::log(static_cast<double>(sum)) + static_cast<double>(max - logits(b, y)) * inv_t;
    sample_losses_[b] = loss;
    total += loss;
    correct_ += (argmax == y) ? 1 : 0;
  }
  return batch > 0 ? total / static_cast<double>(batch) : 0.0;
}

template <typename Scalar>
void SoftmaxCrossEntropy<Scalar>::backward(Mat& dlogits) const {
  // dL/dz = (softmax(z/T) - onehot(y)) / (B T)
  const Eigen::Index batch = probabilities_.rows();
  const Scalar scale = static_cast<Scalar>(1.0 / (static_cast<double>(batch) * temperature_));
  dlogits.resize(batch, probabilities_.cols());
  dlogits = probabilities_;
  for (Eigen::Index b = 0; b < batch; ++b) dlogits(b, labels_[b]) -= Scalar(1);
  dlogits *= scale;
}

template class SoftmaxCrossEntropy<float>;
template class SoftmaxCrossEntropy<double>;

}  // namespace gradflow
