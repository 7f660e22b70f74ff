#include "gradflow/layers/dense.h"

#include <cmath>
#include <type_traits>

#include "gradflow/errors.h"
#include "gradflow/kernels/gemm.h"
#include "gradflow/kernels/onednn.h"
#include "gradflow/layer_registry.h"
#include "gradflow/parallel.h"

namespace gradflow {

namespace {
DenseInit parse_init(const std::string& name) {
  return name == "xavier_uniform" ? DenseInit::XavierUniform : DenseInit::KaimingUniform;
}
}  // namespace

namespace {
int64_t checked_units(int64_t input, int64_t units) {
  constexpr int64_t max_weights = int64_t(1) << 31;
  if (units < 1 || input < 1 || units > max_weights / input) {
    throw InputError("a dense layer of " + std::to_string(units) + " x " + std::to_string(input) +
                     " weights is outside what gradflow allocates (1 to 2^31 weights)");
  }
  return units;
}
}  // namespace

template <typename Scalar>
Dense<Scalar>::Dense(int64_t input, int64_t units, Init init)
    : init_(init), input_(input), units_(checked_units(input, units)) {
  this->allocate_parameters();
}

template <typename Scalar>
void Dense<Scalar>::map_parameters(Scalar* values, Scalar* gradients) {
  const int64_t weights = units_ * input_;
  new (&weight_) Eigen::Map<Mat>(values, units_, input_);
  new (&bias_) Eigen::Map<RowVectorT<Scalar>>(values + weights, units_);
  new (&weight_grad_) Eigen::Map<Mat>(gradients, units_, input_);
  new (&bias_grad_) Eigen::Map<RowVectorT<Scalar>>(gradients + weights, units_);
}

template <typename Scalar>
Dense<Scalar>::Dense(const nlohmann::json& args, int64_t input)
    : Dense(input, args.at("units").get<int64_t>(),
            parse_init(args.value("init", std::string("kaiming_uniform")))) {}

template <typename Scalar>
void Dense<Scalar>::initialize(std::mt19937_64& rng) {
  const double in = static_cast<double>(input_size());
  const double out = static_cast<double>(output_size());
  const double bound = init_ == Init::XavierUniform ? std::sqrt(6.0 / (in + out)) : 1.0 / std::sqrt(in);
  std::uniform_real_distribution<double> uniform(-bound, bound);
  for (Eigen::Index i = 0; i < weight_.size(); ++i) weight_.data()[i] = static_cast<Scalar>(uniform(rng));
  if (init_ == Init::XavierUniform) {
    bias_.setZero();
  } else {
    for (Eigen::Index i = 0; i < bias_.size(); ++i) bias_[i] = static_cast<Scalar>(uniform(rng));
  }
}

template <typename Scalar>
void Dense<Scalar>::forward(const ConstRef& x, Mat& y) {
  // x: (B, in), W: (out, in), y: (B, out)
  if (std::is_same_v<Scalar, float> && product_precision() == Precision::BF16) {
    forward_bf16(x, y);
    return;
  }
  y.resize(x.rows(), weight_.rows());
  for_row_blocks(y.rows(), y.cols(), [&](int64_t begin, int64_t end) { y.middleRows(begin, end - begin).rowwise() = bias_; });
  gemm<Scalar>(false, true, x, weight_, y, /*accumulate=*/true);
}

template <typename Scalar>
void Dense<Scalar>::backward(const ConstRef& x, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  // x: (B, in), dy: (B, out), dW: (out, in), db: (out), dx: (B, in)
  if (std::is_same_v<Scalar, float> && product_precision() == Precision::BF16) {
    backward_bf16(x, dy, dx);
    return;
  }
  gemm<Scalar>(true, false, dy, x, weight_grad_);
  bias_grad_.noalias() = dy.colwise().sum();
  if (dx != nullptr) gemm<Scalar>(false, false, dy, weight_, *dx);
}

template <typename Scalar>
void Dense<Scalar>::forward_bf16(const ConstRef& x, Mat& y) {
  if constexpr (std::is_same_v<Scalar, float>) {
    to_bfloat16(x, x_bf16_);
    x_bf16_source_ = x.data();
    to_bfloat16(weight_, weight_bf16_);
    y.resize(x.rows(), weight_.rows());
    bf16_gemm(false, true, x_bf16_, weight_bf16_, y, /*accumulate=*/false, bias_.data());
  }
}

template <typename Scalar>
void Dense<Scalar>::backward_bf16(const ConstRef& x, const ConstRef& dy, Mat* dx) {
  if constexpr (std::is_same_v<Scalar, float>) {
    // forward's copies of x and W, unless backward is given another x than forward was
    if (x.data() != x_bf16_source_ || x.rows() != x_bf16_.rows() || weight_bf16_.size() != weight_.size()) {
      to_bfloat16(x, x_bf16_);
      to_bfloat16(weight_, weight_bf16_);
      x_bf16_source_ = x.data();
    }
    to_bfloat16(dy, dy_bf16_);
    bf16_gemm(true, false, dy_bf16_, x_bf16_, weight_grad_);
    bias_grad_.noalias() = dy.colwise().sum();
    if (dx != nullptr) {
      dx->resize(dy.rows(), weight_.cols());
      bf16_gemm(false, false, dy_bf16_, weight_bf16_, *dx);
    }
  }
}

template class Dense<float>;
template class Dense<double>;

GRADFLOW_REGISTER_LAYER(Dense, "dense", "fully connected, like nn.Linear: y = x W^T + b",
                        {{"units", LayerParam::Integer, nullptr, {1, 1e7}, "output features", {}},
                         {"init", LayerParam::String, "kaiming_uniform", {}, "weight initialisation",
                          {"kaiming_uniform", "xavier_uniform"}}});

}  // namespace gradflow
