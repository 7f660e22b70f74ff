// One parameter block per model: the blocks are contiguous and every layer's tensors are views
// into them, values survive binding and moving, a standalone layer owns a private block, and
// training through the block gives what standalone layers give.
#include <gtest/gtest.h>

#include "gradflow/layer_registry.h"
#include "gradflow/layers/batch_norm.h"
#include "gradflow/layers/dense.h"
#include "gradflow/layers/relu.h"
#include "gradflow/model.h"
#include "gradflow/optim/sgd.h"
#include "gradflow/softmax_cross_entropy.h"

using namespace gradflow;

namespace {

nlohmann::json spec() {
  return resolve_model_spec({{"input", 5},
                             {"layers",
                              {{{"type", "dense"}, {"units", 6}}, {{"type", "relu"}}, {{"type", "batch_norm"}},
                               {{"type", "dense"}, {"units", 3}}}}});
}

struct Batch {
  Matrix x;
  Labels y;
};

Batch batch(unsigned seed) {
  std::srand(seed);
  Batch b{Matrix::Random(4, 5), Labels(4)};
  b.y << 0, 2, 1, 2;
  return b;
}

// The parameters of `model` are laid out one after another in `model`'s blocks, in order.
void expect_views_tile_the_blocks(Sequential<float>& model) {
  const auto values = model.parameter_block();
  const auto gradients = model.gradient_block();
  int64_t offset = 0;
  for (const auto& p : model.parameters()) {
    EXPECT_EQ(p.value, values.data() + offset) << p.name;
    EXPECT_EQ(p.gradient, gradients.data() + offset) << p.name;
    offset += p.size();
  }
  EXPECT_EQ(offset, values.size());
  EXPECT_EQ(offset, gradients.size());
}

}  // namespace

TEST(ParameterBlock, IsContiguousAndTheViewsPointIntoIt) {
  Sequential<float> model(spec());
  // 0.weight (6, 5), 0.bias (6), 2.weight (6), 2.bias (6), 3.weight (3, 6), 3.bias (3)
  EXPECT_EQ(model.parameter_block().size(), 30 + 6 + 6 + 6 + 18 + 3);
  expect_views_tile_the_blocks(model);
  // the layer's own accessors are the same views
  auto& dense = dynamic_cast<Dense<float>&>(model.layer(3));
  EXPECT_EQ(dense.weight().data(), model.parameter_block().data() + 48);
  // names and shapes, as PyTorch's state_dict has them, are unchanged
  std::vector<std::string> names;
  for (const auto& p : model.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"}));
  EXPECT_EQ(model.parameters()[4].shape, (std::vector<int64_t>{3, 6}));
}

TEST(ParameterBlock, BackwardWritesTheGradientBlockAndAnUpdateIsOnePass) {
  Sequential<float> model(spec());
  std::mt19937_64 rng(1);
  model.initialize(rng);
  Sequential<float> twin(spec());
  copy_state(model, twin);
  const Batch b = batch(2);
  for (auto* m : {&model, &twin}) {
    m->forward_loss(b.x, b.y);
    m->backward();
  }
  EXPECT_GT(model.gradient_block().norm(), 0.0f);
  // SGD with momentum over the model's named tensors (which lie in one block, so the optimizer
  // updates them in one pass), and over one view of the whole block
  auto block = twin.parameter_block();
  const TensorView<float> everything{"all", {block.size()}, block.data(), twin.gradient_block().data()};
  Sgd per_tensor(model.parameters(), SgdOptions{0.9, 1e-4, true}), one_pass({everything}, SgdOptions{0.9, 1e-4, true});
  EXPECT_TRUE(per_tensor.contiguous());
  for (int step = 0; step < 2; ++step) {
    per_tensor.step(0.1);
    one_pass.step(0.1);
  }
  EXPECT_EQ(Eigen::VectorXf(model.parameter_block()), Eigen::VectorXf(twin.parameter_block()));
}

TEST(ParameterBlock, ValuesSurviveBinding) {
  // batch_norm's constructor sets γ = 1 in its private block; the model's block receives it
  Sequential<float> model(spec());
  for (const auto& p : model.parameters()) {
    const Eigen::Map<const Eigen::ArrayXf> v(p.value, p.size());
    if (p.name == "2.weight") {
      EXPECT_TRUE((v == 1.0f).all());
    } else {
      EXPECT_TRUE((v == 0.0f).all()) << p.name;
    }
  }
  // a standalone layer keeps its values (and gradients) when bound to outside storage
  Dense<float> dense(3, 2);
  std::mt19937_64 rng(3);
  dense.initialize(rng);
  const Matrix x = Matrix::Random(4, 3);
  Matrix before, after;
  dense.forward(x, before);
  const Matrix weight = dense.weight();
  std::vector<float> values(8, -1.0f), gradients(8, -1.0f);
  dense.bind_parameters(values.data(), gradients.data());
  EXPECT_EQ(dense.weight().data(), values.data());
  EXPECT_EQ(dense.bias().data(), values.data() + 6);
  EXPECT_EQ(dense.parameters()[1].gradient, gradients.data() + 6);
  EXPECT_EQ(Matrix(dense.weight()), weight);
  EXPECT_EQ(gradients, std::vector<float>(8, 0.0f));
  dense.forward(x, after);
  EXPECT_EQ(after, before);
}

TEST(ParameterBlock, MovingTheModelKeepsTheViewsValid) {
  Sequential<float> model(spec());
  std::mt19937_64 rng(4);
  model.initialize(rng);
  const Batch b = batch(5);
  const Matrix logits = model.forward(b.x);
  const float* values = model.parameter_block().data();
  const float* first_weight = model.parameters()[0].value;

  Sequential<float> moved(std::move(model));
  EXPECT_EQ(moved.parameter_block().data(), values);  // the storage moved, it was not copied
  EXPECT_EQ(moved.parameters()[0].value, first_weight);
  expect_views_tile_the_blocks(moved);
  EXPECT_EQ(moved.forward(b.x), logits);

  Sequential<float> assigned(spec());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.parameter_block().data(), values);
  expect_views_tile_the_blocks(assigned);
  EXPECT_EQ(assigned.forward(b.x), logits);
  // an update through the block is what the layers compute with
  assigned.parameter_block().setZero();
  EXPECT_TRUE((assigned.forward(b.x).array() == 0.0f).all());
}

TEST(ParameterBlock, TrainingThroughTheBlockMatchesStandaloneLayers) {
  // The same steps with layers owning their private blocks: bit for bit the same parameters.
  const nlohmann::json mlp = resolve_model_spec(
      {{"input", 5}, {"layers", {{{"type", "dense"}, {"units", 6}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 3}}}}});
  Sequential<float> model(mlp);
  std::mt19937_64 rng(6);
  model.initialize(rng);
  Dense<float> first(5, 6), last(6, 3);
  ReLU<float> relu(6);
  SoftmaxCrossEntropy<float> head;
  first.weight() = dynamic_cast<Dense<float>&>(model.layer(0)).weight();
  first.bias() = dynamic_cast<Dense<float>&>(model.layer(0)).bias();
  last.weight() = dynamic_cast<Dense<float>&>(model.layer(2)).weight();
  last.bias() = dynamic_cast<Dense<float>&>(model.layer(2)).bias();
  auto standalone = first.parameters();
  for (auto& p : last.parameters()) standalone.push_back(p);
  Sgd model_sgd(model.parameters(), SgdOptions{0.9, 1e-4, false}), standalone_sgd(standalone, SgdOptions{0.9, 1e-4, false});
  for (unsigned step = 0; step < 3; ++step) {
    const Batch b = batch(10 + step);
    model.forward_loss(b.x, b.y);
    model.backward();
    model_sgd.step(0.05);
    Matrix h, a, z, dz, da, dh;
    first.forward(b.x, h);
    relu.forward(h, a);
    last.forward(a, z);
    head.forward(z, b.y);
    head.backward(dz);
    last.backward(a, z, dz, &da);
    relu.backward(h, a, da, &dh);
    first.backward(b.x, h, dh, nullptr);
    standalone_sgd.step(0.05);
  }
  EXPECT_EQ(Matrix(dynamic_cast<Dense<float>&>(model.layer(0)).weight()), Matrix(first.weight()));
  EXPECT_EQ(Matrix(dynamic_cast<Dense<float>&>(model.layer(2)).weight()), Matrix(last.weight()));
  EXPECT_EQ(RowVector(dynamic_cast<Dense<float>&>(model.layer(2)).bias()), RowVector(last.bias()));
}

namespace {
// A plugin layer with a parameter, defined outside the library: y = x ⊙ w, w: (features).
template <typename Scalar>
class Scale : public Layer<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;
  Scale(const nlohmann::json& /*args*/, int64_t input) : size_(input) { this->allocate_parameters(); }
  std::string type() const override { return "test_scale"; }
  int64_t input_size() const override { return size_; }
  int64_t output_size() const override { return size_; }
  std::vector<TensorShape> parameter_shapes() const override { return {{"weight", {size_}}}; }
  void initialize(std::mt19937_64& /*rng*/) override { w_.setConstant(Scalar(2)); }
  void forward(const ConstRef& x, Mat& y) override { y = x.array().rowwise() * w_.array(); }
  void backward(const ConstRef& x, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) override {
    dw_ = dy.cwiseProduct(x).colwise().sum();  // dw = Σ_b dy ⊙ x
    if (dx) *dx = dy.array().rowwise() * w_.array();
  }

 protected:
  void map_parameters(Scalar* values, Scalar* gradients) override {
    new (&w_) Eigen::Map<RowVectorT<Scalar>>(values, size_);
    new (&dw_) Eigen::Map<RowVectorT<Scalar>>(gradients, size_);
  }

 private:
  int64_t size_;
  Eigen::Map<RowVectorT<Scalar>> w_{nullptr, 0}, dw_{nullptr, 0};
};
GRADFLOW_REGISTER_LAYER(Scale, "test_scale", "test only: a plugin layer with a parameter", {});
}  // namespace

TEST(ParameterBlock, APluginLayerTakesPartInTheBlock) {
  Sequential<float> model(resolve_model_spec(
      {{"input", 5}, {"layers", {{{"type", "dense"}, {"units", 4}}, {{"type", "test_scale"}}, {{"type", "dense"}, {"units", 3}}}}}));
  std::mt19937_64 rng(7);
  model.initialize(rng);
  expect_views_tile_the_blocks(model);
  const auto params = model.parameters();
  ASSERT_EQ(params.size(), 5u);
  EXPECT_EQ(params[2].name, "1.weight");
  EXPECT_EQ(params[2].value, model.parameter_block().data() + 24);
  EXPECT_EQ(params[2].value[3], 2.0f);
  const Batch b = batch(8);
  model.forward_loss(b.x, b.y);
  model.backward();
  EXPECT_NE(params[2].gradient[0], 0.0f);
  EXPECT_EQ(params[2].gradient, model.gradient_block().data() + 24);
}
