#include "gradflow/model.h"

#include <algorithm>

#include "gradflow/errors.h"
#include "gradflow/json_check.h"
#include "gradflow/layer_registry.h"

namespace gradflow {

namespace jc = json_check;

int64_t model_output_size(const nlohmann::json& resolved_spec) {
  int64_t features = resolved_spec.at("input").get<int64_t>();
  for (const auto& layer : resolved_spec.at("layers")) features = LayerRegistry::instance().output_size(layer, features);
  return features;
}

nlohmann::json resolve_model_spec(const nlohmann::json& spec, const std::string& path) {
  jc::expect_object(spec, path);
  jc::reject_unknown_keys(spec, path, {"input", "layers", "head"});
  const int64_t input = jc::integer(spec, "input", path, std::nullopt, {1, 1e8});

  const std::string layers_path = jc::join(path, "layers");
  if (!spec.contains("layers") || !spec["layers"].is_array() || spec["layers"].empty()) {
    throw ConfigError(layers_path, "expected a non-empty array of layers, got " +
                                       (spec.contains("layers") ? jc::show(spec["layers"]) : std::string("nothing")));
  }
  nlohmann::json layers = nlohmann::json::array();
  int64_t features = input;
  int64_t weights = 0;
  for (size_t i = 0; i < spec["layers"].size(); ++i) {
    const std::string layer_path = jc::join(layers_path, std::to_string(i));
    nlohmann::json resolved = LayerRegistry::instance().resolve(spec["layers"][i], layer_path);
    const int64_t out = LayerRegistry::instance().output_size(resolved, features);
    // the layer's trained values, and its output for one sample: activations grow with the batch,
    // but a layer as wide as the cap is already past what gradflow is for
    weights += LayerRegistry::instance().find(resolved.at("type").get<std::string>())->parameter_count(resolved, features);
    weights = std::max(weights, out);
    if (weights > kMaxModelWeights) {
      throw ConfigError(layer_path, "the model grows past " + std::to_string(kMaxModelWeights) +
                                        " weights; gradflow trains small networks");
    }
    features = out;
    layers.push_back(std::move(resolved));
  }
  if (features < 2) {
    throw ConfigError(layers_path, "the last layer must output at least 2 classes, it outputs " +
                                       std::to_string(features));
  }

  const std::string head_path = jc::join(path, "head");
  nlohmann::json head = spec.value("head", nlohmann::json::object());
  jc::expect_object(head, head_path);
  jc::string(head, "type", head_path, std::string(kSoftmaxCrossEntropy), {kSoftmaxCrossEntropy});
  nlohmann::json resolved_head = resolve_options(head, head_path, kSoftmaxCrossEntropy, softmax_cross_entropy_options());

  return {{"input", input},
          {"layers", layers},
          {"head", std::move(resolved_head)}};
}

template <typename Scalar>
Sequential<Scalar>::Sequential(const nlohmann::json& resolved_spec)
    : input_size_(resolved_spec.at("input").get<int64_t>()),
      head_(resolved_spec.at("head").at("temperature").get<double>(),
            resolved_spec.at("head").value("label_smoothing", 0.0)) {
  int64_t features = input_size_;
  for (const auto& given : resolved_spec.at("layers")) {
    // kept as resolved (every schema parameter, defaults filled in): describe() saves exactly this
    const nlohmann::json layer_spec =
        LayerRegistry::instance().resolve(given, "/model/layers/" + std::to_string(layer_specs_.size()));
    layer_specs_.push_back(layer_spec);
    layers_.push_back(LayerRegistry::instance().create<Scalar>(layer_spec, features));
    features = layers_.back()->output_size();
  }
  size_t total = 0;
  for (const auto& layer : layers_) total += static_cast<size_t>(layer->parameter_count());
  parameter_block_.assign(total, Scalar(0));
  gradient_block_.assign(total, Scalar(0));
  size_t offset = 0;
  for (auto& layer : layers_) {
    layer->bind_parameters(parameter_block_.data() + offset, gradient_block_.data() + offset);
    offset += static_cast<size_t>(layer->parameter_count());
  }
  outputs_.resize(layers_.size());
  gradients_.resize(layers_.size());
}

template <typename Scalar>
nlohmann::json Sequential<Scalar>::describe() const {
  return {{"input", input_size_},
          {"layers", layer_specs_},
          {"head",
           {{"type", "softmax_cross_entropy"},
            {"temperature", head_.temperature()},
            {"label_smoothing", head_.label_smoothing()}}}};
}

template <typename Scalar>
int64_t Sequential<Scalar>::classes() const {
  return layers_.back()->output_size();
}

template <typename Scalar>
void Sequential<Scalar>::initialize(std::mt19937_64& rng) {
  for (auto& layer : layers_) layer->initialize(rng);
}

template <typename Scalar>
void Sequential<Scalar>::set_training(bool training) {
  for (auto& layer : layers_) layer->set_training(training);
}

template <typename Scalar>
const typename Sequential<Scalar>::Mat& Sequential<Scalar>::forward(const Eigen::Ref<const Mat>& x) {
  if (x.cols() != input_size_) {
    throw InputError("model expects " + std::to_string(input_size_) + " input features, got " +
                     std::to_string(x.cols()));
  }
  input_data_ = x.data();
  input_rows_ = x.rows();
  input_stride_ = x.outerStride();
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i == 0) {
      layers_[i]->forward(x, outputs_[i]);
    } else {
      layers_[i]->forward(outputs_[i - 1], outputs_[i]);
    }
    if (stage_hook_) stage_hook_(i, Pass::Forward);
  }
  return outputs_.back();
}

template <typename Scalar>
typename Sequential<Scalar>::ConstView Sequential<Scalar>::input(size_t i) const {
  if (i == 0) return ConstView(input_data_, input_rows_, input_size_, Eigen::OuterStride<>(input_stride_));
  const Mat& previous = outputs_[i - 1];
  return ConstView(previous.data(), previous.rows(), previous.cols(), Eigen::OuterStride<>(previous.cols()));
}

template <typename Scalar>
double Sequential<Scalar>::forward_loss(const Eigen::Ref<const Mat>& x, const Eigen::Ref<const Labels>& labels,
                                         const LabelMix& mix) {
  const double loss = head_.forward(forward(x), labels, mix);
  if (stage_hook_) stage_hook_(layers_.size(), Pass::Forward);
  return loss;
}

template <typename Scalar>
void Sequential<Scalar>::backward(Mat* input_gradient) {
  head_.backward(gradients_.back());
  if (stage_hook_) stage_hook_(layers_.size(), Pass::Backward);
  for (size_t i = layers_.size(); i-- > 0;) {
    // dL/d(input of layer i) is dL/d(output of layer i-1)
    Mat* dx = i > 0 ? &gradients_[i - 1] : input_gradient;
    layers_[i]->backward(input(i), outputs_[i], gradients_[i], dx);
    if (stage_hook_) stage_hook_(i, Pass::Backward);
  }
}

namespace {
template <typename Scalar>
void prefix(std::vector<TensorView<Scalar>>& out, std::vector<TensorView<Scalar>> views, size_t index) {
  for (auto& v : views) {
    v.name = std::to_string(index) + "." + v.name;
    out.push_back(std::move(v));
  }
}
}  // namespace

template <typename Scalar>
std::vector<TensorView<Scalar>> Sequential<Scalar>::parameters() {
  std::vector<TensorView<Scalar>> out;
  for (size_t i = 0; i < layers_.size(); ++i) prefix(out, layers_[i]->parameters(), i);
  return out;
}

template <typename Scalar>
std::vector<TensorView<Scalar>> Sequential<Scalar>::buffers() {
  std::vector<TensorView<Scalar>> out;
  for (size_t i = 0; i < layers_.size(); ++i) prefix(out, layers_[i]->buffers(), i);
  return out;
}

template <typename To, typename From>
void copy_state(Sequential<From>& from, Sequential<To>& to) {
  auto source = from.parameters();
  auto target = to.parameters();
  auto source_buffers = from.buffers();
  auto target_buffers = to.buffers();
  source.insert(source.end(), source_buffers.begin(), source_buffers.end());
  target.insert(target.end(), target_buffers.begin(), target_buffers.end());
  auto text = [](const auto& a) {  // "0.weight [16, 64]"
    std::string s = a.name + " [";
    for (size_t d = 0; d < a.shape.size(); ++d) s += (d ? ", " : "") + std::to_string(a.shape[d]);
    return s + "]";
  };
  for (size_t k = 0; k < std::max(source.size(), target.size()); ++k) {
    if (k >= source.size() || k >= target.size() || source[k].name != target[k].name ||
        source[k].shape != target[k].shape) {
      throw InputError("the models differ: tensor " + (k < source.size() ? text(source[k]) : std::string("(none)")) +
                       " against " + (k < target.size() ? text(target[k]) : std::string("(none)")));
    }
    for (int64_t i = 0; i < source[k].size(); ++i) target[k].value[i] = static_cast<To>(source[k].value[i]);
  }
  to.head().set_temperature(from.head().temperature());
}

template class Sequential<float>;
template class Sequential<double>;
template void copy_state<double, float>(Sequential<float>&, Sequential<double>&);
template void copy_state<float, double>(Sequential<double>&, Sequential<float>&);
template void copy_state<float, float>(Sequential<float>&, Sequential<float>&);

}  // namespace gradflow
