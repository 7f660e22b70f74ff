#include "prelu.h"

#include "gradflow/layer_registry.h"

template <typename Scalar>
PReLU<Scalar>::PReLU(const nlohmann::json& args, int64_t input)
    : features_(input), init_(args.at("init").get<double>()) {
  // 2. once parameter_shapes() can answer: a private block, until a model binds the layer to its own
  this->allocate_parameters();
  std::mt19937_64 unused;
  initialize(unused);
}

template <typename Scalar>
void PReLU<Scalar>::forward(const ConstRef& x, Mat& y) {
  y = (x.array() > Scalar(0)).select(x.array(), x.array().rowwise() * slope_.array());
}

template <typename Scalar>
void PReLU<Scalar>::backward(const ConstRef& x, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  // da_j = Σ_b dy·x over the entries where x <= 0 (the backward overwrites, like every layer's)
  slope_grad_ = (x.array() > Scalar(0)).select(Scalar(0), dy.array() * x.array()).colwise().sum();
  if (dx == nullptr) return;
  *dx = (x.array() > Scalar(0)).select(dy.array(), dy.array().rowwise() * slope_.array());
}

template class PReLU<float>;
template class PReLU<double>;

GRADFLOW_REGISTER_LAYER(PReLU, "prelu", "leaky ReLU with a learned slope per feature, like nn.PReLU(features)",
                        {{"init", gradflow::LayerParam::Number, 0.25, {0, 1}, "initial slope", {}}});
