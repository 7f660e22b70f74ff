// training.adversarial: the fast gradient sign method as a training objective — the step's
// gradient against the two passes done by hand (known values), the perturbation against the sign
// of the input gradient, the config's checks, and a run. The objective's gradient is a blend of
// two gradients that backward computes and the finite-difference suites check; resuming
// bit-identically: Resume.* in test_faults.cpp.
#include <gtest/gtest.h>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/train.h"
#include "gradflow/train/adversarial.h"
#include "gradflow/train/step.h"
#include "test_configs.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {
Sequential<float> small_model() {
  Sequential<float> model(resolve_model_spec(
      {{"input", 5},
       {"layers", {{{"type", "dense"}, {"units", 4}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 3}}}}}));
  std::mt19937_64 rng(5);
  model.initialize(rng);
  return model;
}
}  // namespace

// J̃ = α·J(x) + (1 − α)·J(x + ε·sign(∇ₓJ(x))): the step leaves the blend of the two passes'
// gradients, done here one by one on a copy of the model, and returns the clean loss.
TEST(Adversarial, GradientIsTheBlendOfTheCleanAndThePerturbedPass) {
  Sequential<float> model = small_model(), twin = small_model();
  std::srand(3);
  const Matrix x = Matrix::Random(6, 5);
  Labels y(6);
  for (int b = 0; b < 6; ++b) y[b] = b % 3;
  const double epsilon = 0.2, alpha = 0.3;
  AdversarialStep step({epsilon, alpha});
  int64_t correct = -1;
  const double loss = step.forward_backward(model, x, y, &correct);

  Matrix dx;
  const double clean_loss = twin.forward_loss(x, y);
  EXPECT_EQ(correct, twin.head().correct());
  twin.backward(&dx);
  const Eigen::VectorXf clean = twin.gradient_block();
  Matrix perturbed = x;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const float g = dx.data()[i];
    perturbed.data()[i] += g > 0 ? 0.2f : g < 0 ? -0.2f : 0.0f;
  }
  EXPECT_EQ(step.perturbed(), perturbed);
  const double perturbed_loss = twin.forward_loss(perturbed, y);
  twin.backward();
  const Eigen::VectorXf expected = 0.3f * clean + 0.7f * Eigen::VectorXf(twin.gradient_block());
  EXPECT_EQ(loss, clean_loss);
  EXPECT_GT(perturbed_loss, clean_loss) << "a step along the sign of the input gradient raises the loss";
  ASSERT_EQ(model.gradient_block().size(), expected.size());
  for (Eigen::Index i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(model.gradient_block()[i], expected[i]) << i;
  // train_step with it: the update uses the blend (plain SGD, lr 0.1: w ← w − 0.1·g)
  Sequential<float> stepped = small_model();
  const Eigen::VectorXf before = stepped.parameter_block();
  auto sgd = make_optimizer(stepped.parameters(), OptimizerRegistry::instance().resolve({{"type", "sgd"}}, "/optimizer"));
  AdversarialStep again({epsilon, alpha});
  const StepOutcome outcome = train_step(stepped, *sgd, x, y, 0.1, nullptr, {}, &again);
  EXPECT_EQ(outcome.loss, clean_loss);
  EXPECT_EQ(outcome.correct, correct);
  for (Eigen::Index i = 0; i < expected.size(); ++i) {
    EXPECT_FLOAT_EQ(stepped.parameter_block()[i], before[i] - 0.1f * expected[i]) << i;
  }
}

TEST(Adversarial, IsOffByDefaultAndCheckedInTheConfig) {
  const json model{{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  EXPECT_FALSE(parse_config({{"model", model}}).training.adversarial.enabled());
  EXPECT_FALSE(parse_config({{"model", model}}).to_json()["training"].contains("adversarial"));
  const Config c = parse_config({{"model", model}, {"training", {{"adversarial", {{"epsilon", 0.25}}}}}});
  EXPECT_EQ(c.training.adversarial.epsilon, 0.25);
  EXPECT_EQ(c.training.adversarial.weight, 0.5);
  EXPECT_EQ(c.to_json()["training"]["adversarial"], json({{"epsilon", 0.25}, {"weight", 0.5}}));
  EXPECT_EQ(parse_config(c.to_json()).to_json(), c.to_json());
  EXPECT_FALSE(parse_config({{"model", model}, {"training", {{"adversarial", nullptr}}}}).training.adversarial.enabled());
  expect_training_option_errors("adversarial", {{json{{"epsilon", 0}}, "/training/adversarial/epsilon"},
                                                {json{{"weight", 0.5}}, "/training/adversarial/epsilon"},
                                                {json{{"epsilon", 0.1}, {"weight", 1}}, "/training/adversarial/weight"},
                                                {json{{"epsilon", 0.1}, {"alpha", 0.5}}, "/training/adversarial/alpha"},
                                                {json(0.1), "/training/adversarial"}});
}

// A run trains with it (the log's training accuracy is the clean batches'), and its model differs
// from the same run's without it.
TEST(Adversarial, ARunTrainsWithItAndEndsElsewhere) {
  const std::string data = write_separable_dataset("adversarial_data", 400, 60);
  json spec{{"name", "adversarial"},
            {"seed", 3},
            {"threads", 1},
            {"data", {{"dir", data}, {"validation", 100}}},
            {"model",
             {{"input", 64},
              {"layers", {{{"type", "dense"}, {"units", 8}}, {{"type", "batch_norm"}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}},
            {"optimizer", {{"lr", 0.1}, {"momentum", 0.9}}},
            {"training", {{"epochs", 2}, {"batch_size", 32}, {"adversarial", {{"epsilon", 0.3}}}}},
            {"calibration", {{"method", "none"}}}};
  const TrainSummary with = train(parse_config(spec), temp_dir("adversarial_run"));
  spec["training"].erase("adversarial");
  const TrainSummary without = train(parse_config(spec), temp_dir("adversarial_plain"));
  EXPECT_GT(with.last_epoch.train_accuracy, 0.9);
  EXPECT_GT(with.test.accuracy, 0.9);
  EXPECT_NE(with.last_epoch.train_loss, without.last_epoch.train_loss);
}
