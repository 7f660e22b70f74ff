// One suite over every registered layer type, so a layer is tested the moment it is registered:
// finite-difference checks of the input and parameter gradients (double precision, training and
// eval mode), a save/load round trip through a checkpoint, and train/eval-mode behaviour.
#include <gtest/gtest.h>

#include <filesystem>

#include "gradflow/checkpoint.h"
#include "gradflow/gradcheck.h"
#include "gradflow/layer_registry.h"
#include "gradflow/plugin.h"
#include "gradflow/registry.h"
#include "test_files.h"

using namespace gradflow;
using nlohmann::json;

namespace {

// A value of `p` inside its range and unlike its default (so a layer that loses it on save and
// load shows it); for a required parameter, a small in-range value.
json non_default_value(const LayerParam& p) {
  const json& d = p.default_value;
  switch (p.kind) {
    case LayerParam::Integer: {
      const int64_t base = d.is_null() ? 5 : d.get<int64_t>();
      for (int64_t v : {base + 2, base - 1, base * 2, int64_t{5}}) {
        if (p.range.contains(static_cast<double>(v)) && (d.is_null() || v != base)) return v;
      }
      break;
    }
    case LayerParam::Number: {
      const double base = d.is_null() ? 0.5 : d.get<double>();
      for (double v : {base * 1.5 + 0.1, base * 0.5, base + 0.25, 0.5}) {
        if (p.range.contains(v) && (d.is_null() || v != base)) return v;
      }
      break;
    }
    case LayerParam::Boolean: return d.is_null() ? true : !d.get<bool>();
    case LayerParam::String:
      for (const auto& choice : p.choices) {
        if (d.is_null() || choice != d.get<std::string>()) return choice;
      }
      return p.choices.empty() ? json("x") : json(p.choices.front());
  }
  return d;
}

// A valid spec for `info` with every parameter given a non-default value.
json example_spec(const LayerInfo& info) {
  json spec{{"type", info.type}};
  for (const auto& p : info.params) spec[p.name] = non_default_value(p);
  return spec;
}

// input 6 -> dense 5 -> [the layer] -> dense 3 -> head: the layer sees and returns a real gradient
json model_around(const LayerInfo& info) {
  return resolve_model_spec({{"input", 6},
                             {"layers",
                              {json{{"type", "dense"}, {"units", 5}}, example_spec(info),
                               json{{"type", "dense"}, {"units", 3}}}}});
}

std::vector<std::string> registered_types() {
  std::vector<std::string> types;
  for (const LayerInfo* info : LayerRegistry::instance().all()) {
    if (info->type.rfind("test_", 0) != 0) types.push_back(info->type);
  }
  return types;
}

struct Batch {
  Matrix x;
  Labels y;
};

Batch batch(int64_t rows = 7) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal;
  Batch b{Matrix(rows, 6), Labels(rows)};
  for (Eigen::Index i = 0; i < b.x.size(); ++i) b.x.data()[i] = normal(rng);
  for (Eigen::Index i = 0; i < rows; ++i) b.y[i] = static_cast<int>(i % 3);
  return b;
}

class EveryLayer : public ::testing::TestWithParam<std::string> {
 protected:
  const LayerInfo& info() const { return *LayerRegistry::instance().find(GetParam()); }
  Sequential<float> model() const {
    Sequential<float> m(model_around(info()));
    std::mt19937_64 rng(3);
    m.initialize(rng);
    return m;
  }
};

}  // namespace

TEST_P(EveryLayer, GradientsMatchFiniteDifferences) {
  Sequential<float> m = model();
  const Batch b = batch();
  GradCheckOptions options;
  options.entries_per_tensor = 0;  // every entry
  const GradCheckResult result = check_gradients(m, b.x, b.y, options);
  EXPECT_TRUE(result.passed()) << result.to_json().dump(1);
  // every parameter tensor of the layer under test is among the checked ones
  for (auto& p : m.layer(1).parameters()) {
    const bool found = std::any_of(result.tensors.begin(), result.tensors.end(),
                                   [&](const TensorCheck& t) { return t.name == "1." + p.name; });
    EXPECT_TRUE(found) << p.name;
  }
}

TEST_P(EveryLayer, GradientsMatchFiniteDifferencesInEvalMode) {
  // Eval mode has its own backward for stateful layers (batch_norm's running statistics).
  Sequential<float> m = model();
  const Batch b = batch();
  m.forward_loss(b.x, b.y);  // one training forward moves running statistics off their start
  Sequential<double> twin(m.describe());
  copy_state(m, twin);
  twin.set_training(false);
  MatrixT<double> x = b.x.cast<double>(), dx;
  twin.forward_loss(x, b.y);
  twin.backward(&dx);
  const double worst = max_central_difference_error([&] { return twin.forward_loss(x, b.y); }, x.data(), dx.data(),
                                                    x.size(), 1e-5, 1e-3);
  EXPECT_LT(worst, 1e-6);
}

TEST_P(EveryLayer, SaveLoadRoundTrip) {
  Sequential<float> m = model();
  const Batch b = batch();
  m.forward_loss(b.x, b.y);  // changes running statistics where a layer keeps them
  const std::string path = gradflow::testing::temp_dir("registry_" + GetParam()) + "/m.safetensors";
  save_checkpoint(path, m, nullptr);
  LoadedCheckpoint loaded = load_checkpoint(path);
  EXPECT_EQ(loaded.model.describe(), m.describe());
  // every parameter comes back as written, none replaced by its default
  EXPECT_EQ(loaded.model.describe()["layers"][1], LayerRegistry::instance().resolve(example_spec(info()), "/l"));
  for (const auto& p : info().params) {
    EXPECT_EQ(loaded.model.describe()["layers"][1][p.name], non_default_value(p)) << p.name;
  }
  auto a = m.parameters(), c = loaded.model.parameters();
  auto ab = m.buffers(), cb = loaded.model.buffers();
  a.insert(a.end(), ab.begin(), ab.end());
  c.insert(c.end(), cb.begin(), cb.end());
  ASSERT_EQ(a.size(), c.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].name, c[k].name);
    for (int64_t i = 0; i < a[k].size(); ++i) EXPECT_EQ(a[k].value[i], c[k].value[i]) << a[k].name;
  }
  m.set_training(false);
  loaded.model.set_training(false);
  EXPECT_EQ(m.forward(b.x), loaded.model.forward(b.x));
}

TEST_P(EveryLayer, EvalModeIsDeterministicAndTrainingModeAsDeclared) {
  Sequential<float> m = model();
  const Batch b = batch();
  m.set_training(false);
  const Matrix first = m.forward(b.x);
  const Matrix second = m.forward(b.x);
  EXPECT_EQ(first, second);
  EXPECT_TRUE(first.allFinite());
  m.set_training(true);
  const Matrix train_a = m.forward(b.x);
  const Matrix train_b = m.forward(b.x);
  EXPECT_TRUE(train_a.allFinite());
  if (m.layer(1).deterministic_in_training()) {
    EXPECT_EQ(train_a, train_b);
  } else {
    EXPECT_NE(train_a, train_b) << "a random layer draws a new mask every forward";
  }
  EXPECT_EQ(m.layer(1).input_size(), 5);
}

TEST_P(EveryLayer, RejectsUnknownParametersWithJsonPath) {
  json spec = example_spec(info());
  spec["no_such_parameter"] = 1;
  try {
    LayerRegistry::instance().resolve(spec, "/model/layers/3");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/layers/3/no_such_parameter");
  }
}

INSTANTIATE_TEST_SUITE_P(Registered, EveryLayer, ::testing::ValuesIn(registered_types()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(Registry, HoldsTheBuiltInLayers) {
  for (const char* type : {"dense", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "dropout", "gaussian_noise", "batch_norm"}) {
    EXPECT_NE(LayerRegistry::instance().find(type), nullptr) << type;
  }
}

TEST(Registry, KeepsTheFirstOfTwoRegistrationsAndNamesBothPlaces) {
  // a plugin layer named like a built-in would otherwise replace it silently; registration runs
  // while static objects are built, where an exception would abort, so the conflict waits for check()
  Registry<int> table("layer type");
  EXPECT_NO_THROW(table.check());
  EXPECT_TRUE(table.add("relu", 1, "src/layers/relu.cpp"));
  set_current_plugin("/p/libmine.so");
  EXPECT_FALSE(table.add("relu", 2, "mine.cpp"));
  set_current_plugin("");
  EXPECT_EQ(*table.find("relu"), 1);
  try {
    table.check();
    FAIL() << "the second \"relu\" went unreported";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "layer type \"relu\" is registered twice: in src/layers/relu.cpp, and again in mine.cpp of the "
                           "plugin /p/libmine.so; rename one of them");
  }
}
