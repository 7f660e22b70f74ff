// Optimizers: the registry, option checks, and every optimizer against PyTorch — known values
// computed once by torch.optim (tests/torch_optimizer.py) and committed here, and, when PyTorch is
// installed, a run of torch.optim itself over the same gradients. The max-norm constraint acts on
// the weights after an update and leaves every gradient as it was: it needs known values, not a
// finite-difference check.
#include <gtest/gtest.h>

#include <cmath>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/optim/adam.h"
#include "gradflow/optim/max_norm.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/optim/sgd.h"

using namespace gradflow;
using nlohmann::json;

namespace {

// Two tensors (a 2×3 weight and a bias of 3) and the learning rate of each of five steps.
const std::vector<std::vector<float>> kInit{{0.5f, -1.0f, 0.25f, 2.0f, -0.75f, 0.0f}, {0.1f, -0.2f, 0.3f}};
const std::vector<double> kRates{0.01, 0.01, 0.005, 0.005, 0.002};

// Runs `options` (a config's optimizer object, without lr) over the rates; the gradient of
// element i of tensor k at step t is sin(0.3 + 0.7 i + 1.3 t + 2.1 k) * (k + 1), as in
// tests/torch_optimizer.py. Returns every tensor's values after each step.
std::vector<std::vector<std::vector<float>>> run(const json& options, const std::vector<double>& rates = kRates) {
  std::vector<std::vector<float>> values = kInit, gradients = kInit;
  std::vector<TensorView<float>> views{{"0.weight", {2, 3}, values[0].data(), gradients[0].data()},
                                       {"0.bias", {3}, values[1].data(), gradients[1].data()}};
  auto optimizer = make_optimizer(views, OptimizerRegistry::instance().resolve(options, "/optimizer"));
  std::vector<std::vector<std::vector<float>>> steps;
  for (size_t t = 1; t <= rates.size(); ++t) {
    for (size_t k = 0; k < gradients.size(); ++k) {
      for (size_t i = 0; i < gradients[k].size(); ++i) {
        gradients[k][i] = static_cast<float>(std::sin(0.3 + 0.7 * double(i) + 1.3 * double(t) + 2.1 * double(k)) *
                                             double(k + 1));
      }
    }
    EXPECT_TRUE(optimizer->step(rates[t - 1]));
    steps.push_back(values);
  }
  return steps;
}

std::vector<float> flat(const std::vector<std::vector<float>>& tensors) {
  std::vector<float> out;
  for (const auto& t : tensors) out.insert(out.end(), t.begin(), t.end());
  return out;
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    // float32 arithmetic in a different order than PyTorch's vectorised kernels: a few ulps
    EXPECT_NEAR(actual[i], expected[i], 2e-6 * std::max(1.0f, std::fabs(expected[i]))) << what << " element " << i;
  }
}

struct KnownValues {
  const char* name;
  json options;
  std::vector<float> after_step1, after_step5;  // torch.optim's parameters, both tensors flattened
};

// Computed by tests/torch_optimizer.py with PyTorch 1.13 (Debian's python3-torch), foreach=False.
const std::vector<KnownValues> kKnown{
    {"adam_default",
     {{"type", "adam"}},
     {0.49000001f, -1.00999999f, 0.239999995f, 2.00999999f, -0.74000001f, 0.00999999885f, 0.109999999f, -0.189999998f,
      0.310000002f},
     {0.482483119f, -1.00849485f, 0.25134635f, 2.02359176f, -0.729708135f, 0.0135154007f, 0.123591714f, -0.179708138f,
      0.313515365f}},
    {"adam_amsgrad_decay",
     {{"type", "adam"}, {"beta1", 0.8}, {"beta2", 0.99}, {"eps", 1e-6}, {"weight_decay", 0.1}, {"amsgrad", true}},
     {0.49000001f, -1.00999999f, 0.240000054f, 2.00999999f, -0.74000001f, 0.00999999046f, 0.109999992f, -0.190000013f,
      0.310000002f},
     {0.482910484f, -1.00427389f, 0.250932872f, 2.01953793f, -0.729852319f, 0.0121531151f, 0.122618482f, -0.180891722f,
      0.311776429f}},
    {"adamw_decay",
     {{"type", "adamw"}, {"weight_decay", 0.05}},
     {0.489749998f, -1.00950003f, 0.239874989f, 2.00900006f, -0.739624977f, 0.00999999885f, 0.109949999f, -0.189899996f,
      0.309850007f},
     {0.481699526f, -1.00688457f, 0.250952303f, 2.02037549f, -0.728526056f, 0.0135014057f, 0.12341363f, -0.17940551f,
      0.31302166f}},
    {"adamw_amsgrad",
     {{"type", "adamw"}, {"weight_decay", 0.01}, {"amsgrad", true}, {"beta2", 0.95}},
     {0.489950001f, -1.00989997f, 0.23997499f, 2.00979996f, -0.739925027f, 0.00999999978f, 0.109990001f, -0.18998f,
      0.309969991f},
     {0.482235789f, -1.00822413f, 0.251163095f, 2.02280974f, -0.729400039f, 0.0134754162f, 0.123417921f, -0.179576069f,
      0.313379407f}},
};

}  // namespace

TEST(Optimizers, MatchTorchOptimKnownValues) {
  for (const KnownValues& k : kKnown) {
    const auto steps = run(k.options);
    expect_close(flat(steps[0]), k.after_step1, std::string(k.name) + " step 1");
    expect_close(flat(steps[4]), k.after_step5, std::string(k.name) + " step 5");
  }
}

// With PyTorch installed (Debian's python3-torch), torch.optim itself runs every scenario above
// and a few more, SGD included.
TEST(Optimizers, MatchTorchOptimRunNow) {
  std::vector<json> scenarios;
  for (const KnownValues& k : kKnown) scenarios.push_back(k.options);
  scenarios.push_back({{"type", "sgd"}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 0.01}});
  scenarios.push_back({{"type", "sgd"}, {"momentum", 0.5}});
  scenarios.push_back({{"type", "adam"}, {"beta1", 0.0}, {"beta2", 0.5}, {"eps", 1e-3}});
  scenarios.push_back({{"type", "adamw"}});  // torch.optim.AdamW's default weight decay, 0.01
  for (const json& options : scenarios) {
    json spec{{"type", options["type"]}, {"options", options}, {"lr", kRates}, {"init", kInit}};
    spec["options"].erase("type");
    const std::string input = ::testing::TempDir() + "/torch_optimizer_input.json";
    std::FILE* f = std::fopen(input.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(spec.dump().c_str(), f);
    std::fclose(f);
    const std::string command = std::string(GRADFLOW_SOURCE_DIR) + "/tests/torch_optimizer.py <" + input + " 2>/dev/null";
    std::FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    const int status = pclose(pipe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << "PyTorch is not installed";
    ASSERT_EQ(status, 0) << command;
    const json torch = json::parse(out);
    const auto steps = run(options);
    ASSERT_EQ(torch["steps"].size(), steps.size());
    for (size_t t = 0; t < steps.size(); ++t) {
      expect_close(flat(steps[t]), flat(torch["steps"][t].get<std::vector<std::vector<float>>>()),
                   options.dump() + " step " + std::to_string(t + 1));
    }
  }
}

TEST(Optimizers, AdamStateIsNamedLikeTorchAndCountsSteps) {
  std::vector<float> value{1.0f}, gradient{0.5f};
  Adam adam({{"p", {1}, value.data(), gradient.data()}},
            OptimizerRegistry::instance().resolve({{"type", "adam"}, {"amsgrad", true}}, "/optimizer"));
  ASSERT_EQ(adam.state().size(), 3u);
  EXPECT_EQ(adam.state()[0].name, "exp_avg");
  EXPECT_EQ(adam.state()[1].name, "exp_avg_sq");
  EXPECT_EQ(adam.state()[2].name, "max_exp_avg_sq");
  EXPECT_EQ(adam.terms(0.1)[1].first, "bias_correction1");
  EXPECT_DOUBLE_EQ(adam.terms(0.1)[1].second, 1 - 0.9);
  adam.step(0.1);
  adam.step(0.1);
  EXPECT_EQ(adam.scalars()["step"], 2);
  // m = 0.9 * 0.05 + 0.05 = 0.095 after two equal gradients
  EXPECT_NEAR(adam.state()[0].of(0)[0], 0.095f, 1e-7);
  EXPECT_NEAR(adam.terms(0.1)[2].second, 1 - std::pow(0.999, 3), 1e-15);
  EXPECT_THROW(adam.set_scalars({{"step", -1}}), InputError);
}

TEST(Optimizers, ReportANonFiniteGradient) {
  for (const char* type : {"sgd", "adam", "adamw"}) {
    std::vector<float> value(200000, 1.0f), gradient(200000, 0.5f);
    auto optimizer = make_optimizer({{"w", {200000}, value.data(), gradient.data()}},
                                    OptimizerRegistry::instance().resolve({{"type", type}}, "/optimizer"));
    std::vector<double> norms;
    EXPECT_TRUE(optimizer->step(1e-3, &norms)) << type;
    EXPECT_GT(norms[0], 0.0) << type;
    gradient[123457] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(optimizer->step(1e-3)) << type;
  }
}

TEST(Optimizers, ConfigChoosesByTypeWithCheckedOptions) {
  const json model{{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  Config sgd = parse_config({{"model", model}});
  EXPECT_EQ(sgd.optimizer["type"], "sgd");
  EXPECT_DOUBLE_EQ(sgd.schedule.base_lr, 0.1);

  Config adam = parse_config({{"model", model}, {"optimizer", {{"type", "adam"}}}});
  EXPECT_DOUBLE_EQ(adam.schedule.base_lr, 1e-3);  // torch.optim.Adam's default
  EXPECT_DOUBLE_EQ(adam.optimizer["beta2"].get<double>(), 0.999);
  // the resolved config names every option and reads back the same
  const json resolved = adam.to_json();
  EXPECT_EQ(resolved["optimizer"]["type"], "adam");
  EXPECT_EQ(parse_config(resolved).to_json(), resolved);

  auto error = [&](const json& optimizer) {
    try {
      parse_config({{"model", model}, {"optimizer", optimizer}});
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error({{"type", "adagrad"}}),
            "config error at /optimizer/type: expected one of \"adam\", \"adamw\", \"sgd\", got \"adagrad\"");
  EXPECT_EQ(error({{"type", "adam"}, {"beta1", 1.0}}), "config error at /optimizer/beta1: expected a number in [0, 1), got 1.0");
  EXPECT_EQ(error({{"type", "adam"}, {"momentum", 0.9}}),
            "config error at /optimizer/momentum: an option of sgd, not of adam (remove it: --set optimizer.momentum=null)");
  EXPECT_EQ(error({{"type", "adam"}, {"beta3", 0.9}}),
            "config error at /optimizer/beta3: unknown key (expected one of: type, lr, max_norm, beta1, beta2, eps, weight_decay, "
            "amsgrad)");
  // switching a config's optimizer from the command line: null removes a key, its default applies
  json config{{"model", model}, {"optimizer", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}}}};
  for (const char* assignment : {"optimizer.type=adam", "optimizer.momentum=null", "optimizer.lr=null"}) {
    apply_override(config, assignment);
  }
  const Config switched = parse_config(config);
  EXPECT_EQ(switched.optimizer["type"], "adam");
  EXPECT_DOUBLE_EQ(switched.schedule.base_lr, 1e-3);
  EXPECT_EQ(error({{"type", "sgd"}, {"nesterov", true}}),
            "config error at /optimizer/nesterov: Nesterov momentum needs /optimizer/momentum > 0");
}

TEST(Optimizers, RegistryListsEveryOptimizer) {
  std::vector<std::string> types;
  for (const OptimizerInfo* info : OptimizerRegistry::instance().all()) types.push_back(info->type);
  EXPECT_NE(std::find(types.begin(), types.end(), "sgd"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "adam"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "adamw"), types.end());
  EXPECT_DOUBLE_EQ(OptimizerRegistry::instance().resolve({{"type", "adamw"}}, "/o")["weight_decay"].get<double>(), 0.01);
  // a second registration of a name: Registry.KeepsTheFirstOfTwoRegistrationsAndNamesBothPlaces
}

TEST(Optimizers, OnePassOverAParameterBlockEqualsOnePassPerTensor) {
  // the same tensors, once laid out in one block (as a model holds them) and once apart
  for (const json& options : {json{{"type", "sgd"}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 0.01}},
                              json{{"type", "adam"}, {"amsgrad", true}, {"weight_decay", 0.01}}, json{{"type", "adamw"}}}) {
    std::vector<float> block_values(9), block_gradients(9);
    for (size_t i = 0; i < 9; ++i) block_values[i] = 0.1f * float(i) - 0.4f;
    std::vector<std::vector<float>> values{{block_values.begin(), block_values.begin() + 6},
                                           {block_values.begin() + 6, block_values.end()}};
    std::vector<std::vector<float>> gradients{std::vector<float>(6), std::vector<float>(3)};
    const auto resolved = OptimizerRegistry::instance().resolve(options, "/optimizer");
    auto together = make_optimizer({{"0.weight", {2, 3}, block_values.data(), block_gradients.data()},
                                    {"0.bias", {3}, block_values.data() + 6, block_gradients.data() + 6}},
                                   resolved);
    auto apart = make_optimizer({{"0.weight", {2, 3}, values[0].data(), gradients[0].data()},
                                 {"0.bias", {3}, values[1].data(), gradients[1].data()}},
                                resolved);
    EXPECT_TRUE(together->contiguous());
    EXPECT_FALSE(apart->contiguous());
    for (int t = 1; t <= 4; ++t) {
      for (size_t i = 0; i < 9; ++i) {
        block_gradients[i] = std::sin(float(i) + 1.7f * float(t));
        (i < 6 ? gradients[0][i] : gradients[1][i - 6]) = block_gradients[i];
      }
      ASSERT_TRUE(together->step(0.01));
      ASSERT_TRUE(apart->step(0.01));
    }
    for (size_t i = 0; i < 9; ++i) {
      EXPECT_EQ(block_values[i], i < 6 ? values[0][i] : values[1][i - 6]) << options.dump() << " element " << i;
    }
  }
}

// A 3×2 weight whose first row (3, 4) has norm 5 > c = 2.5, a second row of norm 1 and a third of
// norm exactly c; a bias and a batch-norm γ (vectors) of norm 10.
TEST(MaxNorm, RescalesTheRowsOfDenseWeightsOverCAndNothingElse) {
  for (const char* type : {"sgd", "adam", "adamw"}) {
    std::vector<float> weight{3.0f, 4.0f, 0.6f, 0.8f, -2.5f, 0.0f}, bias{10.0f, 0.0f, 0.0f}, gamma{0.0f, 10.0f};
    std::vector<float> zero(6, 0.0f);  // no gradient: the optimizers' own update leaves every value as it is
    json options{{"type", type}, {"max_norm", 2.5}};
    if (std::string(type) == "adamw") options["weight_decay"] = 0.0;
    auto optimizer = make_optimizer({{"0.weight", {3, 2}, weight.data(), zero.data()},
                                     {"0.bias", {3}, bias.data(), zero.data()},
                                     {"1.weight", {2}, gamma.data(), zero.data()}},
                                    OptimizerRegistry::instance().resolve(options, "/optimizer"));
    EXPECT_DOUBLE_EQ(optimizer->max_norm(), 2.5) << type;
    EXPECT_EQ(optimizer->options()["max_norm"], 2.5) << type;
    ASSERT_TRUE(optimizer->step(0.1)) << type;
    EXPECT_EQ(weight, (std::vector<float>{1.5f, 2.0f, 0.6f, 0.8f, -2.5f, 0.0f})) << type;  // scaled by c/5 = 0.5 exactly
    EXPECT_EQ(bias, (std::vector<float>{10.0f, 0.0f, 0.0f})) << type;
    EXPECT_EQ(gamma, (std::vector<float>{0.0f, 10.0f})) << type;
    EXPECT_EQ(optimizer->update_rule().size(), optimizer->formula().size() + 1) << type;
  }
}

// With gradients, every optimizer's update then the constraint: each row of the weight ends at
// min(its norm after the plain update, c), in the direction of the plain update's row.
TEST(MaxNorm, FollowsEveryOptimizersUpdateAndLoggingNormsChangesNothing) {
  for (const json& options : {json{{"type", "sgd"}, {"momentum", 0.9}}, json{{"type", "adam"}}, json{{"type", "adamw"}}}) {
    const double c = 1.6;
    json constrained = options;
    constrained["max_norm"] = c;
    const std::vector<float> plain = run(options, {0.5})[0][0], with_norm = run(constrained, {0.5})[0][0];
    int scaled = 0;
    for (size_t r = 0; r < 2; ++r) {
      double squared = 0;
      for (size_t i = 3 * r; i < 3 * r + 3; ++i) squared += double(plain[i]) * double(plain[i]);
      const double norm = std::sqrt(squared), scale = std::min(1.0, c / norm);
      scaled += norm > c;
      for (size_t i = 3 * r; i < 3 * r + 3; ++i) {
        EXPECT_FLOAT_EQ(with_norm[i], float(scale * plain[i])) << options.dump() << " row " << r;
      }
    }
    EXPECT_EQ(scaled, 1) << options.dump() << ": one row over c, one under";
    EXPECT_EQ(run(constrained, {0.5})[0][1], run(options, {0.5})[0][1]) << "the bias is not constrained";

    // a step that logs its update norms constrains the same way, bit for bit
    std::vector<float> v1 = kInit[0], v2 = kInit[0], g(6);
    for (size_t i = 0; i < 6; ++i) g[i] = std::sin(float(i));
    const auto resolved = OptimizerRegistry::instance().resolve(constrained, "/optimizer");
    auto quiet = make_optimizer({{"0.weight", {2, 3}, v1.data(), g.data()}}, resolved);
    auto logged = make_optimizer({{"0.weight", {2, 3}, v2.data(), g.data()}}, resolved);
    std::vector<double> norms;
    for (int t = 0; t < 3; ++t) {
      ASSERT_TRUE(quiet->step(0.5));
      ASSERT_TRUE(logged->step(0.5, &norms));
    }
    EXPECT_EQ(v1, v2) << options.dump();
  }
}

TEST(MaxNorm, IsOffByDefaultAndCheckedInTheConfig) {
  const json model{{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  const Config plain = parse_config({{"model", model}});
  EXPECT_TRUE(plain.optimizer.at("max_norm").is_null());
  EXPECT_TRUE(plain.to_json()["optimizer"]["max_norm"].is_null());
  const Config constrained = parse_config({{"model", model}, {"optimizer", {{"type", "adam"}, {"max_norm", 3.5}}}});
  EXPECT_EQ(constrained.to_json()["optimizer"]["max_norm"], 3.5);
  EXPECT_EQ(parse_config(constrained.to_json()).to_json(), constrained.to_json());
  for (const json& bad : {json(0.0), json(-1.0), json("big")}) {
    try {
      parse_config({{"model", model}, {"optimizer", {{"max_norm", bad}}}});
      ADD_FAILURE() << bad.dump();
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), "config error at /optimizer/max_norm: expected a number > 0, got " + bad.dump());
    }
  }
  std::vector<float> w{3.0f, 4.0f}, g{0.0f, 0.0f};
  auto sgd = make_optimizer({{"0.weight", {1, 2}, w.data(), g.data()}}, plain.optimizer);
  EXPECT_EQ(sgd->max_norm(), 0.0);
  ASSERT_TRUE(sgd->step(0.1));
  EXPECT_EQ(w, (std::vector<float>{3.0f, 4.0f}));
}
