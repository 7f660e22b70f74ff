// Sequential: PyTorch state_dict names, whole-model finite differences, SGD semantics, schedules.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gradflow/checkpoint.h"
#include "gradflow/errors.h"
#include "gradflow/gradcheck.h"
#include "gradflow/layer_registry.h"
#include "gradflow/model.h"
#include "gradflow/stepper.h"
#include "gradflow/optim/schedule.h"
#include "gradflow/optim/sgd.h"
#include "gradient_check.h"
#include "test_files.h"

using namespace gradflow;
using gradflow::testing::MatD;

namespace {
nlohmann::json mlp_spec() {
  return resolve_model_spec({{"input", 5},
                             {"layers",
                              {{{"type", "dense"}, {"units", 6}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 4}},
                               {{"type", "relu"}}, {{"type", "dense"}, {"units", 3}}}}});
}
}  // namespace

TEST(Sequential, NamesTensorsLikePyTorchStateDict) {
  Sequential<float> model(mlp_spec());
  std::vector<std::string> names;
  for (const auto& p : model.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}));
  EXPECT_EQ(model.parameters()[0].shape, (std::vector<int64_t>{6, 5}));
  EXPECT_EQ(model.classes(), 3);
}

TEST(Sequential, StageHookSeesEveryLayerAndTheHeadInOrder) {
  Sequential<float> model(mlp_spec());
  std::mt19937_64 rng(7);
  model.initialize(rng);
  using Pass = Sequential<float>::Pass;
  std::vector<std::pair<size_t, Pass>> seen;
  model.set_stage_hook([&](size_t layer, Pass pass) {
    // each stage has run when it is reported: a layer's output, or the gradient into it
    if (layer < model.size() && pass == Pass::Forward) {
      EXPECT_EQ(model.output(layer).rows(), 2);
    }
    if (layer < model.size() && layer > 0 && pass == Pass::Backward) {
      EXPECT_EQ(model.gradient_into(layer - 1).rows(), 2);
    }
    seen.emplace_back(layer, pass);
  });
  std::srand(8);
  const Matrix x = Matrix::Random(2, 5);
  Labels y(2);
  y << 0, 2;
  model.forward_loss(x, y);
  model.backward();
  const std::vector<std::pair<size_t, Pass>> expected{
      {0, Pass::Forward},  {1, Pass::Forward},  {2, Pass::Forward},  {3, Pass::Forward},  {4, Pass::Forward},
      {5, Pass::Forward},  {5, Pass::Backward}, {4, Pass::Backward}, {3, Pass::Backward}, {2, Pass::Backward},
      {1, Pass::Backward}, {0, Pass::Backward}};
  EXPECT_EQ(seen, expected);

  model.set_stage_hook(nullptr);
  seen.clear();
  model.forward_loss(x, y);
  model.backward();
  EXPECT_TRUE(seen.empty());
}

namespace {
// y = x, recording where the x and y it is handed live, forward and backward.
template <typename Scalar>
class RecordsStorage : public Layer<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;
  RecordsStorage(const nlohmann::json& /*args*/, int64_t input) : size_(input) {}
  std::string type() const override { return "test_records_storage"; }
  int64_t input_size() const override { return size_; }
  int64_t output_size() const override { return size_; }
  void forward(const ConstRef& x, Mat& y) override {
    forward_x = x.data();
    y = x;
    forward_y = y.data();
  }
  void backward(const ConstRef& x, const ConstRef& y, const ConstRef& dy, Mat* dx) override {
    backward_x = x.data();
    backward_y = y.data();
    if (dx) *dx = dy;
  }
  const Scalar *forward_x = nullptr, *forward_y = nullptr, *backward_x = nullptr, *backward_y = nullptr;

 private:
  int64_t size_;
};
GRADFLOW_REGISTER_LAYER(RecordsStorage, "test_records_storage", "test only: records the storage it is handed", {});
}  // namespace

TEST(Sequential, BackwardIsHandedTheInputAndOutputTheModelKeeps) {
  // No copies: layer 0 sees the caller's x itself, a later layer the previous layer's output.
  Sequential<float> model(resolve_model_spec(
      {{"input", 5},
       {"layers", {{{"type", "test_records_storage"}}, {{"type", "dense"}, {"units", 4}}, {{"type", "test_records_storage"}},
                   {{"type", "dense"}, {"units", 3}}}}}));
  std::mt19937_64 rng(9);
  model.initialize(rng);
  std::srand(10);
  const Matrix batch = Matrix::Random(6, 5);
  Labels y(2);
  y << 0, 2;
  // a block of rows is viewed with its stride, not copied
  const auto x = batch.middleRows(2, 2);
  model.forward_loss(x, y);
  model.backward();
  for (size_t i : {size_t(0), size_t(2)}) {
    auto& layer = dynamic_cast<RecordsStorage<float>&>(model.layer(i));
    const float* input = i == 0 ? x.data() : model.output(i - 1).data();
    EXPECT_EQ(layer.forward_x, input) << i;
    EXPECT_EQ(layer.backward_x, input) << i;
    EXPECT_EQ(layer.forward_y, model.output(i).data()) << i;
    EXPECT_EQ(layer.backward_y, model.output(i).data()) << i;
    EXPECT_EQ(model.input(i).data(), input) << i;
  }
  EXPECT_EQ(Matrix(model.input(0)), Matrix(x));
}

TEST(Sequential, WholeModelGradientsMatchFiniteDifferences) {
  Sequential<double> model(mlp_spec());
  std::mt19937_64 rng(31);
  model.initialize(rng);
  std::srand(32);
  MatD x = MatD::Random(4, 5);
  Labels y(4);
  y << 0, 2, 1, 2;
  model.forward_loss(x, y);
  MatD dx;
  model.backward(&dx);
  auto loss = [&] { return model.forward_loss(x, y); };
  EXPECT_LT(gradflow::testing::max_fd_error(loss, x.data(), dx.data(), x.size()), 1e-6);
  model.forward_loss(x, y);
  model.backward();
  for (auto& p : model.parameters()) {
    std::vector<double> analytic(p.gradient, p.gradient + p.size());
    EXPECT_LT(gradflow::testing::max_fd_error(loss, p.value, analytic.data(), p.size()), 1e-6) << p.name;
  }
}

TEST(Sequential, CopyStateAcrossPrecisions) {
  Sequential<float> model(mlp_spec());
  std::mt19937_64 rng(33);
  model.initialize(rng);
  Sequential<double> twin(mlp_spec());
  copy_state(model, twin);
  Matrix x = Matrix::Random(2, 5);
  const Matrix logits = model.forward(x);
  const MatD logits_double = twin.forward(x.cast<double>());
  EXPECT_LT((logits.cast<double>() - logits_double).cwiseAbs().maxCoeff(), 1e-5);
}

// Input dropout (Srivastava et al. 2014: p = 0.2 on the pixels) is a dropout layer placed first:
// it drops input features in training, is the identity in eval, and nothing before it needs dx.
TEST(Sequential, DropoutAsTheFirstLayerDropsInputFeatures) {
  const nlohmann::json spec = resolve_model_spec(
      {{"input", 6},
       {"layers", {{{"type", "dropout"}, {"p", 0.2}}, {{"type", "dense"}, {"units", 4}}, {{"type", "relu"}},
                   {{"type", "dense"}, {"units", 3}}}}});
  Sequential<float> model(spec);
  std::mt19937_64 rng(41);
  model.initialize(rng);
  EXPECT_FALSE(model.layer(0).random_state().empty()) << "its masks resume with the run";
  std::srand(42);
  const Matrix x = Matrix::Random(16, 6).array() + 2.0f;  // no input is 0 by chance
  Labels y(16);
  for (int b = 0; b < 16; ++b) y[b] = b % 3;

  // training: each input is dropped (0) or kept and scaled by 1/(1 − p)
  model.forward_loss(x, y);
  const Matrix dropped = model.output(0);
  int zeros = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (dropped.data()[i] == 0.0f) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(dropped.data()[i], x.data()[i] / 0.8f);
    }
  }
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, 40) << "about 0.2 of 96";
  // backward without an input gradient: the dense layer's gradient is the dropped input's
  model.backward();
  const Matrix expected_weight_gradient = model.gradient_into(1).transpose() * dropped;
  const auto weight = model.parameters()[0];
  ASSERT_EQ(weight.name, "1.weight");
  EXPECT_TRUE(Eigen::Map<const Matrix>(weight.gradient, 4, 6).isApprox(expected_weight_gradient, 1e-6f));
  // with one, dx passes only the kept inputs, scaled: dx = dL/dy ⊙ m
  Matrix dx;
  model.backward(&dx);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    EXPECT_FLOAT_EQ(dx.data()[i], dropped.data()[i] == 0.0f ? 0.0f : model.gradient_into(0).data()[i] / 0.8f) << i;
  }

  // finite differences (in eval mode, dropout being random in training), the inputs included
  const GradCheckResult check = check_gradients(model, x, y);
  EXPECT_FALSE(check.training_mode);
  EXPECT_TRUE(check.passed()) << check.to_json().dump();
  EXPECT_EQ(check.tensors.back().name, "input");

  // gradflow step records the step, the saliency through the dropped inputs
  auto optimizer = make_optimizer(model.parameters(), OptimizerRegistry::instance().resolve({{"type", "sgd"}}, "/optimizer"));
  StepOptions options;
  options.learning_rate = 0.1;
  const StepTrace trace = trace_step(model, *optimizer, x, y, options);
  ASSERT_EQ(trace.forward.size(), 4u);
  EXPECT_EQ(trace.forward[0].type, "dropout");
  EXPECT_EQ(trace.saliency.rows(), 16);
  EXPECT_EQ(trace.saliency.cols(), 6);

  // eval: the identity; a saved model loads with the same layers and the same predictions
  model.set_training(false);
  const Matrix logits = model.forward(x);
  EXPECT_EQ(Matrix(model.output(0)), x);
  const std::string path = gradflow::testing::temp_dir("input_dropout") + "/model.safetensors";
  save_checkpoint(path, model, nlohmann::json::object());
  LoadedCheckpoint loaded = load_checkpoint(path);
  EXPECT_EQ(loaded.model.describe(), model.describe());
  loaded.model.set_training(false);
  EXPECT_EQ(loaded.model.forward(x), logits);
}

TEST(ModelSpec, RejectsBadLayers) {
  EXPECT_THROW(resolve_model_spec({{"input", 5}, {"layers", nlohmann::json::array()}}), ConfigError);
  try {
    resolve_model_spec({{"input", 5}, {"layers", {{{"type", "dense"}, {"units", 0}}}}});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/layers/0/units");
  }
  try {
    resolve_model_spec({{"input", 5}, {"layers", {{{"type", "conv"}}}}});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/layers/0/type");
  }
  try {
    resolve_model_spec({{"input", 5}, {"layers", {{{"type", "dense"}, {"units", 3}, {"bias", false}}}}});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/layers/0/bias");
  }
}

namespace {
// One scalar parameter p with gradient g, to follow SGD by hand.
struct Scalar1 {
  float value, gradient;
  std::vector<TensorView<float>> views() { return {{"p", {1}, &value, &gradient}}; }
};
}  // namespace

TEST(Sgd, MomentumFollowsPyTorch) {
  Scalar1 s{1.0f, 0.0f};
  Sgd sgd(s.views(), SgdOptions{0.9, 0.0, false});
  // v1 = g1 = 1;  p = 1 - 0.1 * 1 = 0.9
  s.gradient = 1.0f;
  sgd.step(0.1);
  EXPECT_FLOAT_EQ(s.value, 0.9f);
  // v2 = 0.9 * 1 + 2 = 2.9;  p = 0.9 - 0.1 * 2.9 = 0.61
  s.gradient = 2.0f;
  sgd.step(0.1);
  EXPECT_FLOAT_EQ(s.value, 0.61f);
}

TEST(Sgd, NesterovAndWeightDecayFollowPyTorch) {
  Scalar1 s{2.0f, 0.0f};
  Sgd sgd(s.views(), SgdOptions{0.5, 0.1, true});
  // g = 1 + 0.1 * 2 = 1.2;  v = 1.2;  p = 2 - 0.1 * (1.2 + 0.5 * 1.2) = 1.82
  s.gradient = 1.0f;
  sgd.step(0.1);
  EXPECT_FLOAT_EQ(s.value, 1.82f);
  // g = 1 + 0.182 = 1.182;  v = 0.6 + 1.182 = 1.782;  p = 1.82 - 0.1 * (1.182 + 0.891) = 1.6127
  s.gradient = 1.0f;
  sgd.step(0.1);
  EXPECT_NEAR(s.value, 1.6127f, 1e-6);
}

TEST(Sgd, PlainStepWithoutMomentum) {
  Scalar1 s{1.0f, 0.5f};
  Sgd sgd(s.views(), SgdOptions{});
  sgd.step(0.2);
  EXPECT_FLOAT_EQ(s.value, 0.9f);
  EXPECT_TRUE(sgd.state().empty());
}

TEST(Sgd, ReportsANonFiniteGradientInTheSamePass) {
  for (const bool momentum : {false, true}) {
    // large enough for the threaded pass; one bad gradient in the middle
    std::vector<float> value(200000, 1.0f), gradient(200000, 0.5f);
    Sgd sgd({{"w", {200000}, value.data(), gradient.data()}}, SgdOptions{momentum ? 0.9 : 0.0, 0.0, false});
    std::vector<double> norms;
    EXPECT_TRUE(sgd.step(0.1, &norms));
    EXPECT_NEAR(norms[0], 0.05 * std::sqrt(200000.0), 1e-3);
    for (const float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()}) {
      gradient[123457] = bad;
      EXPECT_FALSE(sgd.step(0.1)) << bad;
      EXPECT_FALSE(sgd.step(0.1, &norms)) << bad;
      gradient[123457] = 0.5f;
    }
    // a huge but finite gradient is not divergence
    gradient[7] = 3e38f;
    std::fill(value.begin(), value.end(), 1.0f);
    EXPECT_TRUE(Sgd({{"w", {200000}, value.data(), gradient.data()}}, SgdOptions{}).step(1e-40));
  }
}

TEST(Schedule, ConstantStepCosineAndWarmup) {
  ScheduleOptions constant{"constant", 0.1};
  EXPECT_DOUBLE_EQ(Schedule(constant, 10, 5).learning_rate(37), 0.1);

  ScheduleOptions step{"step", 0.1, 0.0, 2, 0.5};
  const Schedule s(step, 10, 6);
  EXPECT_DOUBLE_EQ(s.learning_rate(19), 0.1);    // epoch 1
  EXPECT_DOUBLE_EQ(s.learning_rate(20), 0.05);   // epoch 2
  EXPECT_DOUBLE_EQ(s.learning_rate(45), 0.025);  // epoch 4

  ScheduleOptions cosine{"cosine", 0.1, 0.0, 1, 0.1, 0.0};
  const Schedule c(cosine, 10, 2);  // 20 steps
  EXPECT_DOUBLE_EQ(c.learning_rate(0), 0.1);
  EXPECT_NEAR(c.learning_rate(10), 0.05, 1e-12);
  EXPECT_NEAR(c.learning_rate(20), 0.0, 1e-12);

  ScheduleOptions warm{"cosine", 0.1, 1.0, 1, 0.1, 0.0};
  const Schedule w(warm, 10, 3);  // 10 warm-up steps, then cosine over 20
  EXPECT_NEAR(w.learning_rate(0), 0.01, 1e-12);
  EXPECT_NEAR(w.learning_rate(9), 0.1, 1e-12);
  EXPECT_NEAR(w.learning_rate(10), 0.1, 1e-12);
  EXPECT_NEAR(w.learning_rate(20), 0.05, 1e-12);
  EXPECT_NEAR(w.learning_rate(29), 0.1 * (1 + std::cos(M_PI * 19 / 20)) / 2, 1e-12);  // the cosine ends with the run
}

// torch.optim.lr_scheduler.OneCycleLR (anneal_strategy "cos") at max_lr 0.1 over T = 100 steps with
// its defaults (pct_start 0.3, div_factor 25, final_div_factor 1e4), worked by hand from its
// formula: the peak is step 0.3·100 − 1 = 29, a(s, e, f) = e + (s − e)(1 + cos πf)/2.
TEST(Schedule, OneCycleRisesToLrAndAnnealsLikePyTorch) {
  ScheduleOptions options;
  options.type = "one_cycle";
  options.base_lr = 0.1;
  const Schedule s(options, 10, 10);
  EXPECT_NEAR(s.learning_rate(0), 0.004, 1e-15);              // 0.1 / 25
  EXPECT_NEAR(s.learning_rate(10), 0.0295163948464101, 1e-15);  // a(0.004, 0.1, 10/29): 0.1 − 0.048·(1 + 0.468408)
  EXPECT_DOUBLE_EQ(s.learning_rate(29), 0.1);                 // the peak
  EXPECT_NEAR(s.learning_rate(64), 0.0500002, 1e-15);         // half way down, (64 − 29)/70 = 1/2: (0.1 + 4e-7)/2
  EXPECT_NEAR(s.learning_rate(98), 5.07464715475788e-05, 1e-17);
  EXPECT_NEAR(s.learning_rate(99), 4e-7, 1e-20);              // the last step: 0.004 / 1e4
  EXPECT_NEAR(s.learning_rate(150), 4e-7, 1e-20);             // past the end it stays there
  for (int64_t t = 1; t < 100; ++t) {
    if (t <= 29) {
      EXPECT_GT(s.learning_rate(t), s.learning_rate(t - 1)) << t;
    } else {
      EXPECT_LT(s.learning_rate(t), s.learning_rate(t - 1)) << t;
    }
  }

  // other factors: T = 40, the peak at step 0.25·40 − 1 = 9
  options.pct_start = 0.25;
  options.div_factor = 10;
  options.final_div_factor = 100;
  const Schedule o(options, 4, 10);
  EXPECT_NEAR(o.learning_rate(0), 0.01, 1e-15);
  EXPECT_DOUBLE_EQ(o.learning_rate(9), 0.1);
  EXPECT_NEAR(o.learning_rate(39), 1e-4, 1e-18);
  // a rise of no length, 0.25·4 − 1 = 0 (PyTorch would divide by zero): the first step is the peak
  EXPECT_DOUBLE_EQ(Schedule(options, 1, 4).learning_rate(0), 0.1);
}
