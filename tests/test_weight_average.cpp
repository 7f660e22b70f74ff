// training.ema: the moving average of the weights — known values on a tiny model, the warm-up of
// its decay, batch norm's buffers, and a run whose evaluated and saved model is the average.
// The average is taken of the weights after each step and changes no gradient: there is nothing
// here for a finite-difference check. Resuming bit-identically: Resume.* in test_faults.cpp.
#include <gtest/gtest.h>

#include <cstring>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/data/source.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"
#include "gradflow/train.h"
#include "gradflow/train/weight_average.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {
json tiny_spec(bool batch_norm = false) {
  json layers = {{{"type", "dense"}, {"units", 2}}};
  if (batch_norm) layers.push_back({{"type", "batch_norm"}});
  return resolve_model_spec({{"input", 2}, {"layers", layers}});
}
}  // namespace

TEST(WeightAverage, DecayWarmsUpLikeTensorFlowsNumUpdates) {
  Sequential<float> model(tiny_spec());
  const WeightAverage average(model, 0.999);
  EXPECT_DOUBLE_EQ(average.decay_at(0), 0.1);  // (1 + 0) / (10 + 0)
  EXPECT_DOUBLE_EQ(average.decay_at(1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(average.decay_at(90), 0.91);
  EXPECT_DOUBLE_EQ(average.decay_at(8990), 0.999);  // 8991 / 9000
  EXPECT_DOUBLE_EQ(average.decay_at(100000), 0.999);
}

// dense 2 -> 2: weight (2, 2) and bias (2), six values; the live model "steps" by hand.
TEST(WeightAverage, KnownValuesAfterThreeSteps) {
  Sequential<float> model(tiny_spec());
  auto live = model.parameter_block();
  const std::vector<std::vector<float>> steps{{1, 2, 3, 4, 5, 6}, {2, 0, -2, 4, 1, 1}, {0, 0, 0, 0, 10, -10}};
  live.setZero();  // the average starts at the weights: all 0
  WeightAverage average(model, 0.2);  // decays 0.1, 2/11, then 0.2 (under 3/12)
  std::vector<double> expected(6, 0.0);
  const double decays[3] = {0.1, 2.0 / 11.0, 0.2};
  for (size_t t = 0; t < 3; ++t) {
    for (size_t i = 0; i < 6; ++i) {
      live[Eigen::Index(i)] = steps[t][i];
      expected[i] = decays[t] * expected[i] + (1 - decays[t]) * steps[t][i];
    }
    average.update();
  }
  EXPECT_EQ(average.updates(), 3);
  // worked by hand for the first value: 0.9·1 = 0.9; (2/11)·0.9 + (9/11)·2 = 1.8 (exactly 19.8/11);
  // 0.2·1.8 + 0.8·0 = 0.36
  EXPECT_NEAR(expected[0], 0.36, 1e-12);
  const auto averaged = average.model().parameter_block();
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(averaged[Eigen::Index(i)], expected[i], 1e-6) << i;
  // the live weights are untouched
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(live[Eigen::Index(i)], steps[2][i]);
}

TEST(WeightAverage, CopiesBatchNormsRunningStatisticsFromTheLiveModel) {
  Sequential<float> model(tiny_spec(true));
  std::mt19937_64 rng(5);
  model.initialize(rng);
  WeightAverage average(model, 0.9);
  const Matrix x = (Matrix(4, 2) << 1, 2, 3, 4, 5, 6, 7, 8).finished();
  Labels y(4);
  y << 0, 1, 0, 1;
  model.forward_loss(x, y);  // training mode: the running statistics move
  average.update();
  auto live = model.buffers(), averaged = average.model().buffers();
  ASSERT_EQ(live.size(), 3u);  // running_mean, running_var, num_batches_tracked
  for (size_t k = 0; k < live.size(); ++k) {
    EXPECT_EQ(0, std::memcmp(live[k].value, averaged[k].value, sizeof(float) * size_t(live[k].size()))) << live[k].name;
  }
  EXPECT_NE(live[0].value[0], 0.0f);
}

TEST(WeightAverage, IsOffByDefaultAndCheckedInTheConfig) {
  const json model{{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  EXPECT_EQ(parse_config({{"model", model}}).training.ema, 0.0);
  EXPECT_TRUE(parse_config({{"model", model}}).to_json()["training"]["ema"].is_null());
  const Config c = parse_config({{"model", model}, {"training", {{"ema", 0.999}}}});
  EXPECT_EQ(c.training.ema, 0.999);
  EXPECT_EQ(parse_config(c.to_json()).to_json(), c.to_json());
  for (const json& bad : {json(0), json(1), json(1.5), json("on")}) {
    try {
      parse_config({{"model", model}, {"training", {{"ema", bad}}}});
      ADD_FAILURE() << bad.dump();
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), "config error at /training/ema: expected a number in (0, 1), got " + bad.dump());
    }
  }
}

// A run with training.ema evaluates and saves the average: model.safetensors holds, bit for bit,
// the average last.safetensors saved beside the live weights at the end, and not the live weights.
TEST(WeightAverage, TheRunSavesAndEvaluatesTheAverage) {
  const std::string data = write_separable_dataset("ema_data", 300, 60);
  json spec{{"name", "ema"},
            {"seed", 3},
            {"threads", 1},
            {"data", {{"dir", data}, {"validation", 100}}},
            {"model",
             {{"input", 64},
              {"layers", {{{"type", "dense"}, {"units", 8}}, {{"type", "batch_norm"}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}},
            {"optimizer", {{"lr", 0.1}, {"momentum", 0.9}}},
            {"training", {{"epochs", 2}, {"batch_size", 32}, {"checkpoint_every", 1}, {"ema", 0.9}}},
            {"calibration", {{"method", "none"}}}};
  const std::string dir = temp_dir("ema_run");
  const TrainSummary summary = train(parse_config(spec), dir);
  const SafetensorsFile last = read_safetensors(dir + "/last.safetensors");
  const SafetensorsFile saved = read_safetensors(dir + "/model.safetensors");
  EXPECT_EQ(json::parse(last.metadata.at("gradflow.train.ema"))["updates"], 14);  // 200 samples / 32: 7 steps, twice
  for (const char* name : {"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"}) {
    const std::string ema = std::string("ema.") + name;
    ASSERT_TRUE(last.tensors.count(ema)) << ema;
    EXPECT_EQ(saved.tensors.at(name).values, last.tensors.at(ema).values) << name;
    EXPECT_NE(saved.tensors.at(name).values, last.tensors.at(name).values) << name << " is the live model's";
  }
  // batch norm's running statistics are the live model's
  EXPECT_EQ(saved.tensors.at("1.running_mean").values, last.tensors.at("1.running_mean").values);
  // the test figures are the saved model's
  LoadedCheckpoint model = load_checkpoint(dir + "/model.safetensors");
  auto [train_split, validation, test, description] = load_data(parse_config(spec).data);
  EXPECT_DOUBLE_EQ(evaluate(model.model, test, 1000).loss, summary.test.loss);
  EXPECT_DOUBLE_EQ(evaluate(model.model, validation, 1000).loss, summary.last_epoch.validation_loss);
}
