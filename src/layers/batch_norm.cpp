#include "gradflow/layers/batch_norm.h"

#include "gradflow/errors.h"
#include "gradflow/layer_registry.h"

namespace gradflow {

template <typename Scalar>
BatchNorm<Scalar>::BatchNorm(int64_t features, double eps, double momentum, bool affine)
    : features_(features), eps_(eps), momentum_(momentum), affine_(affine) {
  if (affine_) this->allocate_parameters();
  running_mean_.resize(features);
  running_var_.resize(features);
  std::mt19937_64 unused;
  initialize(unused);
}

template <typename Scalar>
void BatchNorm<Scalar>::map_parameters(Scalar* values, Scalar* gradients) {
  new (&gamma_) RowMap(values, features_);
  new (&beta_) RowMap(values + features_, features_);
  new (&gamma_grad_) RowMap(gradients, features_);
  new (&beta_grad_) RowMap(gradients + features_, features_);
}

template <typename Scalar>
void BatchNorm<Scalar>::initialize(std::mt19937_64& /*rng*/) {
  // PyTorch's reset: γ = 1, β = 0, running statistics of a standard normal
  if (affine_) {
    gamma_.setOnes();
    beta_.setZero();
  }
  running_mean_.setZero();
  running_var_.setOnes();
  batches_tracked_ = 0;
}

template <typename Scalar>
void BatchNorm<Scalar>::forward(const ConstRef& x, Mat& y) {
  // x, y: (B, features)
  const Eigen::Index batch = x.rows();
  forward_in_training_ = this->training();
  if (forward_in_training_) {
    // data-parallel ranks each see a slice: the statistics are the global batch's (SyncBatchNorm)
    const BatchShard& shard = this->batch_shard();
    const Eigen::Index rows = shard.split() ? static_cast<Eigen::Index>(shard.global_rows) : batch;
    if (rows < 2) throw InputError("batch_norm needs more than 1 sample per batch in training mode");
    Row mean, var;
    if (shard.split()) {
      mean = x.colwise().sum();
      shard.ranks->sum(mean.data(), mean.size());
      mean /= static_cast<Scalar>(rows);
      var = (x.rowwise() - mean).array().square().colwise().sum();
      shard.ranks->sum(var.data(), var.size());
      var /= static_cast<Scalar>(rows);
    } else {
      mean = x.colwise().mean();
      var = (x.rowwise() - mean).array().square().colwise().mean();
    }
    inv_std_ = (var.array() + Scalar(eps_)).rsqrt();
    const auto m = static_cast<Scalar>(momentum_);
    const Scalar unbiased = static_cast<Scalar>(rows) / static_cast<Scalar>(rows - 1);
    running_mean_ = (Scalar(1) - m) * running_mean_ + m * mean;
    running_var_ = (Scalar(1) - m) * running_var_ + m * unbiased * var;
    batches_tracked_ += 1;
    normalized_ = (x.rowwise() - mean).array().rowwise() * inv_std_.array();
  } else {
    inv_std_ = (running_var_.array() + Scalar(eps_)).rsqrt();
    normalized_ = (x.rowwise() - running_mean_).array().rowwise() * inv_std_.array();
  }
  if (affine_) {
    y = (normalized_.array().rowwise() * gamma_.array()).rowwise() + beta_.array();
  } else {
    y = normalized_;
  }
}

template <typename Scalar>
void BatchNorm<Scalar>::backward(const ConstRef& /*x*/, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  const Eigen::Index batch = dy.rows();
  // Σ_b dy and Σ_b dy·x̂: dβ and dγ, and the two sums dx needs (with or without γ and β)
  const Row dy_sum = dy.colwise().sum(), dy_xhat_sum = dy.cwiseProduct(normalized_).colwise().sum();
  if (affine_) {
    beta_grad_ = dy_sum;
    gamma_grad_ = dy_xhat_sum;
  }
  if (dx == nullptr) return;
  const Row scale = affine_ ? Row(gamma_.cwiseProduct(inv_std_)) : inv_std_;
  if (!forward_in_training_) {
    *dx = dy.array().rowwise() * scale.array();  // statistics are constants in eval mode
    return;
  }
  const BatchShard& shard = this->batch_shard();
  if (shard.split()) {
    // The sums run over the global batch. dy here is scaled by 1/B for this slice's B rows (the
    // head's mean), 1/B_global on one process: the slices' sums are rescaled by B/B_global
    // before they are added, and dx = γ·s · (dy − (Σdy + x̂·Σ(dy·x̂)) / B) in this slice's scale.
    const Scalar local = static_cast<Scalar>(batch), global = static_cast<Scalar>(shard.global_rows);
    Row sums(2 * features_);
    sums << dy_sum, dy_xhat_sum;
    sums *= local / global;
    shard.ranks->sum(sums.data(), sums.size());
    const Row global_dy_sum = sums.head(features_) / local, global_dy_xhat_sum = sums.tail(features_) / local;
    *dx = (dy.rowwise() - global_dy_sum) - (normalized_.array().rowwise() * global_dy_xhat_sum.array()).matrix();
    *dx = dx->array().rowwise() * scale.array();
    return;
  }
  // dx = γ·s/B · (B·dy − Σdy − x̂·Σ(dy·x̂))
  const Scalar n = static_cast<Scalar>(batch);
  *dx = ((n * dy).rowwise() - dy_sum - (normalized_.array().rowwise() * dy_xhat_sum.array()).matrix());
  *dx = dx->array().rowwise() * (scale.array() / n);
}

template <typename Scalar>
std::vector<TensorView<Scalar>> BatchNorm<Scalar>::buffers() {
  return {{"running_mean", {running_mean_.size()}, running_mean_.data(), nullptr},
          {"running_var", {running_var_.size()}, running_var_.data(), nullptr},
          {"num_batches_tracked", {}, &batches_tracked_, nullptr}};
}

template <typename Scalar>
LayerFormulas BatchNorm<Scalar>::formulas() const {
  if (!affine_) {
    return {"x̂ = (x − μ)/√(σ² + ε),  y = x̂   (no γ, β: affine false)\n(μ, σ²: the batch's mean and variance; in eval the running ones)",
            "dx = s/B ⊙ (B·dy − Σ_b dy − x̂ ⊙ Σ_b dy ⊙ x̂),  s = 1/√(σ² + ε)"};
  }
  return {"x̂ = (x − μ)/√(σ² + ε),  y = γ ⊙ x̂ + β\n(μ, σ²: the batch's mean and variance; in eval the running ones)",
          "dβ = Σ_b dy   dγ = Σ_b dy ⊙ x̂\n"
          "dx = γ·s/B ⊙ (B·dy − Σ_b dy − x̂ ⊙ Σ_b dy ⊙ x̂),  s = 1/√(σ² + ε)"};
}

template class BatchNorm<float>;
template class BatchNorm<double>;

GRADFLOW_REGISTER_LAYER(BatchNorm, "batch_norm", "1-D batch normalisation with running statistics, like nn.BatchNorm1d",
                        {{"eps", LayerParam::Number, 1e-5, {0, 1, true}, "added to the variance", {}},
                         {"momentum", LayerParam::Number, 0.1, {0, 1}, "weight of the batch in the running statistics", {}},
                         {"affine", LayerParam::Boolean, true, {}, "learn a scale γ and shift β per feature (false: y = x̂)", {}}});

}  // namespace gradflow
