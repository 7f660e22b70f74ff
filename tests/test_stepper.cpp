// The stepper: what it records is checked against independent computations; the gradient check
// catches a wrong backward; the interactive mode is driven through a pseudo-terminal.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <set>
#include <sstream>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/gradcheck.h"
#include "gradflow/layer_registry.h"
#include "gradflow/optim/sgd.h"
#include "gradflow/softmax_cross_entropy.h"
#include "gradflow/stepper.h"
#include "step_view.h"
#include "test_cli.h"
#include "test_files.h"

using namespace gradflow;
using nlohmann::json;

namespace {

// A deliberately wrong layer: y = 2x, but backward passes dy through unscaled.
template <typename Scalar>
class WrongDouble : public Layer<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;
  WrongDouble(const json& /*args*/, int64_t input) : size_(input) {}
  std::string type() const override { return "test_wrong_double"; }
  int64_t input_size() const override { return size_; }
  int64_t output_size() const override { return size_; }
  void forward(const ConstRef& x, Mat& y) override { y = 2 * x; }
  void backward(const ConstRef& /*x*/, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) override {
    if (dx) *dx = dy;  // wrong: should be 2 * dy
  }

 private:
  int64_t size_;
};
GRADFLOW_REGISTER_LAYER(WrongDouble, "test_wrong_double", "test only: a layer with a wrong backward", {});

json spec(bool wrong = false) {
  json layers = {{{"type", "dense"}, {"units", 8}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 4}}};
  if (wrong) layers.insert(layers.begin() + 2, json::object({{"type", "test_wrong_double"}}));
  return resolve_model_spec({{"input", 6}, {"layers", layers}});
}

struct Fixture {
  Sequential<float> model{spec()};
  Matrix x;
  Labels y;
  Fixture() {
    std::mt19937_64 rng(5);
    model.initialize(rng);
    std::srand(6);
    x = Matrix::Random(3, 6);
    y.resize(3);
    y << 1, 3, 0;
  }
};

StepOptions at_rate(double lr) {
  StepOptions options;
  options.learning_rate = lr;
  return options;
}

}  // namespace

TEST(Stepper, DeltaIsYHatMinusYExactly) {
  Fixture f;
  Sgd sgd(f.model.parameters(), SgdOptions{});
  const StepTrace t = trace_step(f.model, sgd, f.x, f.y, at_rate(0.01));
  ASSERT_EQ(t.delta.rows(), 3);
  for (Eigen::Index b = 0; b < 3; ++b) {
    for (Eigen::Index k = 0; k < 4; ++k) {
      EXPECT_EQ(t.delta(b, k), t.probabilities(b, k) - (k == f.y[b] ? 1.0f : 0.0f));
    }
    EXPECT_NEAR(t.delta.row(b).sum(), 0.0f, 1e-6f);
    EXPECT_NEAR(t.loss_negative_log[static_cast<size_t>(b)], t.loss_logsumexp[static_cast<size_t>(b)], 1e-5);
  }
  // the JSON holds the full vectors
  const json j = t.to_json(false);
  EXPECT_EQ(j["samples"][1]["delta"].size(), 4u);
  EXPECT_EQ(j["samples"][1]["y"][3], 1.0);
  EXPECT_FLOAT_EQ(j["samples"][1]["delta"][3].get<float>(), t.delta(1, 3));
}

TEST(Stepper, DeltaIsWhatTheHeadPassesBackForAnyTemperatureAndSmoothing) {
  Fixture f;
  f.model.head().set_temperature(2.0);
  f.model.head().set_label_smoothing(0.1);
  Sgd sgd(f.model.parameters(), SgdOptions{});
  StepOptions options = at_rate(0.01);
  options.keep_values = true;
  const StepTrace t = trace_step(f.model, sgd, f.x, f.y, options);
  EXPECT_EQ(t.temperature, 2.0);
  EXPECT_EQ(t.label_smoothing, 0.1);

  // the head's own backward, on the same logits: delta is it times B (delta is per sample)
  SoftmaxCrossEntropy<float> head(2.0, 0.1);
  const double loss = head.forward(t.logits, f.y);
  Matrix passed_back;
  head.backward(passed_back);
  EXPECT_NEAR(loss, t.loss, 1e-6);
  EXPECT_LT((t.delta - passed_back * 3.0f).cwiseAbs().maxCoeff(), 1e-6f);
  // and by the formula: (softmax(z / 2) - q) / 2 with q = 0.9 onehot + 0.1 / 4
  for (Eigen::Index b = 0; b < 3; ++b) {
    for (Eigen::Index k = 0; k < 4; ++k) {
      const double q = (k == f.y[b] ? 0.9 : 0.0) + 0.025;
      EXPECT_NEAR(t.targets(b, k), q, 1e-7);
      EXPECT_NEAR(t.delta(b, k), (t.probabilities(b, k) - q) / 2.0, 1e-6);
    }
    EXPECT_NEAR(t.delta.row(b).sum(), 0.0f, 1e-6f);  // y_hat and q both sum to 1
  }

  // the per-sample losses, in both forms, average to the loss
  double negative_log = 0, logsumexp = 0, own = 0;
  for (size_t b = 0; b < 3; ++b) {
    EXPECT_NEAR(t.loss_negative_log[b], t.loss_logsumexp[b], 1e-5);
    EXPECT_NEAR(t.loss_per_sample[b], t.loss_logsumexp[b], 1e-5);
    negative_log += t.loss_negative_log[b] / 3;
    logsumexp += t.loss_logsumexp[b] / 3;
    own += t.loss_per_sample[b] / 3;
  }
  EXPECT_NEAR(negative_log, t.loss, 1e-5);
  EXPECT_NEAR(logsumexp, t.loss, 1e-5);
  EXPECT_NEAR(own, t.loss, 1e-9);

  // stage 7: the last dense layer's dL/db is the batch mean of delta, Σ_b δ_b / B
  ASSERT_EQ(t.backward[0].layer, 2u);
  const auto& bias = t.backward[0].parameters[1];
  ASSERT_EQ(bias.name, "2.bias");
  const RowVector mean_delta = t.delta.colwise().mean();
  ASSERT_EQ(bias.gradient.values.size(), 4u);
  for (Eigen::Index k = 0; k < 4; ++k) EXPECT_NEAR(bias.gradient.values[static_cast<size_t>(k)], mean_delta(k), 1e-7);
  // and the gradient entering the last layer is delta / B
  EXPECT_NEAR(t.backward[0].delta.norm, t.delta.norm() / 3.0, 1e-6);

  // the JSON: delta as traced, q, the per-sample loss, the head's e
  const json j = t.to_json(false);
  EXPECT_EQ(j["label_smoothing"], 0.1);
  EXPECT_FLOAT_EQ(j["samples"][1]["delta"][3].get<float>(), t.delta(1, 3));
  EXPECT_FLOAT_EQ(j["samples"][1]["q"][3].get<float>(), 0.925f);
  EXPECT_DOUBLE_EQ(j["samples"][1]["loss"].get<double>(), t.loss_per_sample[1]);
}

TEST(Stepper, TracedNormsEqualIndependentlyComputedOnes) {
  Fixture f;
  Sequential<float> copy(spec());
  copy_state(f.model, copy);
  Sgd sgd(f.model.parameters(), SgdOptions{});
  const StepTrace t = trace_step(f.model, sgd, f.x, f.y, at_rate(0.01));

  // by hand from the copy's weights: h = relu(x W0^T + b0), z = h W2^T + b2
  auto params = copy.parameters();
  Eigen::Map<Matrix> w0(params[0].value, 8, 6), w2(params[2].value, 4, 8);
  Eigen::Map<RowVector> b0(params[1].value, 8), b2(params[3].value, 4);
  const Matrix a = (f.x * w0.transpose()).rowwise() + b0;
  const Matrix h = a.cwiseMax(0.0f);
  const Matrix z = (h * w2.transpose()).rowwise() + b2;
  EXPECT_NEAR(t.forward[0].output.norm, a.norm(), 1e-5);
  EXPECT_NEAR(t.forward[1].output.norm, h.norm(), 1e-5);
  EXPECT_NEAR(t.forward[1].zero_fraction, (h.array() == 0.0f).cast<double>().mean(), 1e-12);
  EXPECT_LT((t.logits - z).cwiseAbs().maxCoeff(), 1e-5f);

  // backward by hand: dz = delta / B, dW2 = dz^T h, dh = dz W2, da = dh * 1[a > 0], dW0 = da^T x, dx = da W0
  const Matrix dz = t.delta / 3.0f;
  const Matrix dw2 = dz.transpose() * h;
  const Matrix da = (dz * w2).cwiseProduct((a.array() > 0.0f).cast<float>().matrix());
  const Matrix dw0 = da.transpose() * f.x;
  const Matrix dx = da * w0;
  ASSERT_EQ(t.backward.size(), 3u);
  EXPECT_EQ(t.backward[0].layer, 2u);  // reverse order
  EXPECT_NEAR(t.backward[0].parameters[0].gradient.norm, dw2.norm(), 1e-5);
  EXPECT_NEAR(t.backward[0].parameters[1].gradient.norm, dz.colwise().sum().norm(), 1e-5);
  EXPECT_NEAR(t.backward[2].parameters[0].gradient.norm, dw0.norm(), 1e-5);
  EXPECT_EQ(t.backward[1].passed, (a.array() > 0.0f).count());
  EXPECT_LT((t.saliency - dx).cwiseAbs().maxCoeff(), 1e-6f);

  // the update: plain SGD moves W by lr * ||dW||
  EXPECT_NEAR(t.updates[2].delta_norm, 0.01 * dw2.norm(), 1e-6);
  EXPECT_NEAR(t.updates[2].weight_norm, w2.norm(), 1e-5);
}

TEST(Stepper, SmallLearningRateLowersTheLoss) {
  Fixture f;
  Sgd sgd(f.model.parameters(), SgdOptions{0.9, 0.0, false});
  const StepTrace t = trace_step(f.model, sgd, f.x, f.y, at_rate(1e-3));
  EXPECT_LT(t.loss_after, t.loss);
  EXPECT_TRUE(t.state_was_empty);
  ASSERT_EQ(t.updates[0].state.size(), 1u);
  EXPECT_EQ(t.updates[0].state[0].first, "momentum");
  EXPECT_GT(t.updates[0].state[0].second.norm, 0.0);
  const StepTrace second = trace_step(f.model, sgd, f.x, f.y, at_rate(1e-3));
  EXPECT_FALSE(second.state_was_empty);
}

TEST(GradCheck, PassesForCorrectLayersAndCatchesAWrongBackward) {
  Fixture f;
  const GradCheckResult good = check_gradients(f.model, f.x, f.y, {0});
  EXPECT_TRUE(good.passed()) << good.to_json().dump();
  EXPECT_EQ(good.tensors.size(), 5u);  // 4 parameter tensors and the input
  EXPECT_EQ(good.tensors.back().name, "input");

  Sequential<float> broken(spec(true));
  std::mt19937_64 rng(7);
  broken.initialize(rng);
  const GradCheckResult bad = check_gradients(broken, f.x, f.y, {0});
  EXPECT_FALSE(bad.passed());
  EXPECT_GT(bad.tensors[0].max_relative_error, 0.1);  // 0.weight sits below the wrong layer
  EXPECT_LT(bad.tensors[2].max_relative_error, 1e-6);  // 3.weight sits above it: still right
}

namespace {

struct PtyRun {
  std::string output;
  int code = -1;
};

// Runs gradflow with `args` on a rows × columns pseudo-terminal, typing each key (an escape
// sequence is one key) once the screen stops changing.
PtyRun run_on_pty(const std::vector<std::string>& args, const std::vector<std::string>& keys, unsigned short rows = 60,
                  unsigned short columns = 120) {
  int master = -1;
  winsize size{rows, columns, 0, 0};
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(GRADFLOW_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(GRADFLOW_BINARY, argv.data());
    _exit(127);
  }
  PtyRun run;
  auto drain = [&](int timeout_ms) {
    char buffer[4096];
    pollfd p{master, POLLIN, 0};
    while (poll(&p, 1, timeout_ms) > 0) {
      const ssize_t n = read(master, buffer, sizeof buffer);
      if (n <= 0) return false;
      run.output.append(buffer, static_cast<size_t>(n));
    }
    return true;
  };
  drain(3000);
  for (const std::string& key : keys) {
    if (write(master, key.data(), key.size()) != static_cast<ssize_t>(key.size())) break;
    if (!drain(500)) break;
  }
  drain(1000);
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

PtyRun run_on_pty(const std::vector<std::string>& args, const std::string& keys) {
  std::vector<std::string> each;
  for (char key : keys) each.emplace_back(1, key);
  return run_on_pty(args, each);
}

std::vector<std::string> step_args(const std::string& name) {
  const std::string data = gradflow::testing::write_separable_dataset(name, 300, 20);
  const std::string dir = gradflow::testing::temp_dir(name + "_cfg");
  std::ofstream(dir + "/c.json") << json{{"data", {{"dir", data}, {"validation", 50}}},
                                         {"model",
                                          {{"input", 64},
                                           {"layers", {{{"type", "dense"}, {"units", 8}}, {{"type", "relu"}},
                                                       {{"type", "dense"}, {"units", 2}}}}}}}
                                        .dump();
  return {"--log-level", "off", "step", "--config", dir + "/c.json", "--index", "2"};
}

}  // namespace

TEST(StepperInteractive, KeysAdvanceGoBackAndQuit) {
  const PtyRun run = run_on_pty(step_args("pty_keys"), "nb \rq");
  EXPECT_EQ(run.code, 0) << run.output;
  const auto first = run.output.find("stage 1/9: the input");
  const auto second = run.output.find("stage 2/9: forward");
  const auto back = run.output.find("stage 1/9: the input", second);       // b
  const auto again = run.output.find("stage 2/9: forward", back);         // space
  const auto third = run.output.find("stage 3/9: the logits z", again);   // Enter
  ASSERT_NE(first, std::string::npos) << run.output;
  EXPECT_NE(second, std::string::npos);
  EXPECT_NE(back, std::string::npos);
  EXPECT_NE(again, std::string::npos);
  EXPECT_NE(third, std::string::npos);
  EXPECT_EQ(run.output.find("stage 4/9"), std::string::npos) << "q must quit at stage 3";
  EXPECT_NE(run.output.find("b/← back"), std::string::npos);
}

TEST(StepperInteractive, ContinueRunsToTheEnd) {
  const PtyRun run = run_on_pty(step_args("pty_continue"), "c");
  EXPECT_EQ(run.code, 0) << run.output;
  size_t at = 0;
  for (int stage = 1; stage <= 9; ++stage) {
    at = run.output.find("stage " + std::to_string(stage) + "/9", at);
    ASSERT_NE(at, std::string::npos) << "stage " << stage << " missing:\n" << run.output;
  }
  EXPECT_NE(run.output.find("δ = ∂L/∂z = ŷ − y"), std::string::npos);
}

TEST(StepperCli, JsonAndCheckWithoutTerminal) {
  auto args = step_args("step_json");
  std::string command = GRADFLOW_BINARY;
  for (const auto& a : args) command += " '" + a + "'";
  const std::string out = gradflow::testing::temp_dir("step_json_out") + "/out";
  const int status = std::system((command + " --count 3 --check --json > " + out + " </dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream in(out);
  const json j = json::parse(in);
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["samples"].size(), 3u);
  EXPECT_EQ(j["samples"][0]["index"], 2);
  EXPECT_TRUE(j["check"]["passed"].get<bool>());
  EXPECT_TRUE(j.contains("loss_before") && j.contains("loss_after"));

  // without a terminal the whole trace is printed at once
  const int plain = std::system((command + " > " + out + " </dev/null").c_str());
  EXPECT_EQ(WEXITSTATUS(plain), 0);
  std::ifstream text(out);
  const std::string all((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("stage 9/9: the sgd update"), std::string::npos);

  // gradcheck on the same config
  args[2] = "gradcheck";
  args.resize(5);
  command = GRADFLOW_BINARY;
  for (const auto& a : args) command += " '" + a + "'";
  const int checked = std::system((command + " --json > " + out + " </dev/null").c_str());
  EXPECT_EQ(WEXITSTATUS(checked), 0);
  std::ifstream result(out);
  EXPECT_TRUE(json::parse(result)["passed"].get<bool>());
}

TEST(StepperCli, ShowsTheChosenOptimizersRuleAndState) {
  auto args = step_args("step_adam");
  std::string command = GRADFLOW_BINARY;
  for (const auto& a : args) command += " '" + a + "'";
  command += " --set optimizer.type=adam --set optimizer.lr=0.01 --set optimizer.amsgrad=true";
  const std::string out = gradflow::testing::temp_dir("step_adam_out") + "/out";
  ASSERT_EQ(WEXITSTATUS(std::system((command + " > " + out + " </dev/null").c_str())), 0);
  std::ifstream text(out);
  const std::string all((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
  const auto stage = all.find("stage 9/9: the adam update");
  ASSERT_NE(stage, std::string::npos) << all;
  for (const char* piece : {"m = β₁·m + (1 − β₁)·g", "v̂ = v_max = max(v_max, v)   (amsgrad)", "bias_correction1 = 0.1",
                            "effective_step_size = ", "‖m‖", "‖v_max‖", "this is its first step"}) {
    EXPECT_NE(all.find(piece, stage), std::string::npos) << piece << "\n" << all.substr(stage);
  }

  // --json --full: every parameter's values before and after, and the state after the update
  ASSERT_EQ(WEXITSTATUS(std::system((command + " --json --full > " + out + " </dev/null").c_str())), 0);
  std::ifstream in(out);
  const json j = json::parse(in);
  const json& update = j["update"];
  EXPECT_EQ(update["optimizer"]["type"], "adam");
  EXPECT_EQ(update["terms"]["t"], 1);
  const json& weight = update["parameters"][0];
  EXPECT_EQ(weight["name"], "0.weight");
  ASSERT_EQ(weight["before"].size(), 8u * 64u);
  ASSERT_EQ(weight["after"].size(), 8u * 64u);
  ASSERT_EQ(weight["state"]["exp_avg"]["values"].size(), 8u * 64u);
  // Adam's first step moves every entry with a non-zero gradient by lr (up to ε): |Δ| ≤ 0.01
  double largest = 0;
  for (size_t i = 0; i < 8 * 64; ++i) {
    largest = std::max(largest, std::fabs(weight["after"][i].get<double>() - weight["before"][i].get<double>()));
  }
  EXPECT_NEAR(largest, 0.01, 1e-4);
}

namespace {

// A checkpoint of the small model step_args configures, its head's temperature 1.5 as a
// calibration would leave it (the stored config still says 1).
std::string small_checkpoint(const std::string& name) {
  const std::string data = gradflow::testing::write_separable_dataset(name, 300, 20);
  const json config{{"data", {{"dir", data}, {"validation", 50}}},
                    {"model",
                     {{"input", 64},
                      {"layers", {{{"type", "dense"}, {"units", 8}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}}};
  Sequential<float> model(resolve_model_spec(config["model"]));
  std::mt19937_64 rng(3);
  model.initialize(rng);
  model.head().set_temperature(1.5);
  const std::string path = gradflow::testing::temp_dir(name + "_ckpt") + "/model.safetensors";
  save_checkpoint(path, model, config);
  return path;
}

}  // namespace

TEST(StepperCli, SetChangesTheHeadOfACheckpointAndRefusesItsLayers) {
  using gradflow::testing::run_cli;
  const std::string checkpoint = small_checkpoint("step_set");
  const std::string step = "--log-level off step --checkpoint " + checkpoint + " --json";

  const auto smoothed = run_cli(step + " --set model.head.label_smoothing=0.1");
  ASSERT_EQ(smoothed.code, 0) << smoothed.err;
  json j = json::parse(smoothed.out);
  EXPECT_DOUBLE_EQ(j["label_smoothing"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 1.5);  // the checkpoint's, not its config's 1
  const int label = j["samples"][0]["label"];
  EXPECT_FLOAT_EQ(j["samples"][0]["q"][label].get<float>(), 0.95f);

  const auto tempered = run_cli(step + " --set model.head.temperature=2");
  ASSERT_EQ(tempered.code, 0) << tempered.err;
  j = json::parse(tempered.out);
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["label_smoothing"].get<double>(), 0.0);

  // the optimizer's options still apply
  const auto adam = run_cli(step + " --set optimizer.type=adam");
  ASSERT_EQ(adam.code, 0) << adam.err;
  EXPECT_EQ(json::parse(adam.out)["update"]["optimizer"]["type"], "adam");

  // a change to the model, or a key that would do nothing for a step or change what the model
  // was trained on: one line, exit 2
  const std::string model_change = ": the model comes from the checkpoint";
  const std::string other_key = ": with --checkpoint only model.head.*";
  for (const auto& [assignment, reason] : std::vector<std::pair<std::string, std::string>>{
           {"model.layers.0.units=16", model_change}, {"model.input=32", model_change},
           {"model.layers.1.type=tanh", model_change}, {"data.mean=0.5", other_key},
           {"training.batch_size=3", other_key},       {"schedule.type=cosine", other_key}}) {
    const auto refused = run_cli(step + " --set " + assignment);
    EXPECT_EQ(refused.code, 2) << assignment << "\n" << refused.out;
    EXPECT_EQ(gradflow::testing::lines(refused.err), 1u) << refused.err;
    EXPECT_NE(refused.err.find("--set " + assignment + reason), std::string::npos) << refused.err;
    EXPECT_TRUE(refused.out.empty());
  }
  EXPECT_EQ(run_cli(step + " --set optimizer.lr=0.01 --set seed=3").code, 0);
}

TEST(StepperView, EveryLayerShowsItsOwnFormulasAndAPluginTheGenericOnes) {
  // a model with every registered layer type (the test's own test_wrong_double has no formulas)
  json layers = json::array();
  std::vector<std::string> types;
  for (const LayerInfo* info : LayerRegistry::instance().all()) {
    types.push_back(info->type);
    layers.push_back(info->type == "dense" ? json{{"type", "dense"}, {"units", 8}} : json{{"type", info->type}});
  }
  layers.push_back({{"type", "dense"}, {"units", 4}});
  Sequential<float> model(resolve_model_spec({{"input", 6}, {"layers", layers}}));
  std::mt19937_64 rng(5);
  model.initialize(rng);
  Fixture f;
  Sgd sgd(model.parameters(), SgdOptions{});
  const StepTrace t = trace_step(model, sgd, f.x, f.y, at_rate(0.01));
  const auto pages = gradflow::cli::step_pages(t, {false, 4, 0, 0, {}, 120});
  const std::string& forward = pages[1].text;
  const std::string& backward = pages[6].text;
  const LayerFormulas generic = generic_layer_formulas();
  for (size_t i = 0; i < types.size(); ++i) {
    const LayerFormulas own = model.layer(i).formulas();
    EXPECT_EQ(t.forward[i].formula, own.forward);
    const bool plugin_style = types[i] == "test_wrong_double";
    EXPECT_EQ(own.forward == generic.forward, plugin_style) << types[i] << " should state its own formulas";
    EXPECT_EQ(own.backward == generic.backward, plugin_style) << types[i];
    EXPECT_NE(forward.find(types[i]), std::string::npos) << types[i];
    // every line of the formulas is on the page
    for (const std::string* text : {&own.forward, &own.backward}) {
      const std::string& page = text == &own.forward ? forward : backward;
      size_t start = 0;
      for (;;) {
        const size_t end = text->find('\n', start);
        const std::string line = text->substr(start, end == std::string::npos ? std::string::npos : end - start);
        EXPECT_NE(page.find(line), std::string::npos) << types[i] << ": " << line << "\n" << page;
        if (end == std::string::npos) break;
        start = end + 1;
      }
    }
  }
  EXPECT_NE(forward.find("y = f(x)"), std::string::npos);
  EXPECT_NE(backward.find("dx = (∂f/∂x)ᵀ dy"), std::string::npos);
  // the JSON carries them
  const json j = t.to_json(false);
  EXPECT_EQ(j["forward"].back()["type"], "dense");
  EXPECT_EQ(j["forward"].back()["formula"], std::string("y = x·Wᵀ + b"));
  EXPECT_EQ(j["backward"][0]["formula"], std::string("dW = dyᵀ·x   db = Σ_b dy   dx = dy·W"));
}

TEST(StepperView, EveryLineFitsTheWidthAndTheBarsLineUp) {
  Fixture f;
  f.model.head().set_temperature(2.0);
  f.model.head().set_label_smoothing(0.1);
  Sgd sgd(f.model.parameters(), SgdOptions{});
  const StepTrace t = trace_step(f.model, sgd, f.x, f.y, at_rate(0.01));
  for (const int64_t width : {40, 80, 200}) {
    const auto pages = gradflow::cli::step_pages(t, {false, 4, 0, 0, {"zero", "one", "two", "three"}, width});
    ASSERT_EQ(pages.size(), 9u);
    for (const auto& page : pages) {
      std::istringstream lines(page.text);
      for (std::string line; std::getline(lines, line);) {
        EXPECT_LE(gradflow::cli::display_width(line), static_cast<size_t>(width)) << line;
      }
    }
    // the softmax: every probability starts in the same column, whatever its bar's length
    std::istringstream lines(pages[3].text);
    std::set<size_t> columns;
    for (std::string line; std::getline(lines, line);) {
      const auto at = line.rfind(' ');
      if (line.rfind("    ", 0) == 0 && at != std::string::npos && line.find("0.") == at + 1) {
        columns.insert(gradflow::cli::display_width(line.substr(0, at)));
      }
    }
    EXPECT_EQ(columns.size(), 1u) << pages[3].text;
  }
  // q and T are named where the head is not the plain one
  const auto pages = gradflow::cli::step_pages(t, {false, 4, 0, 0, {}, 80});
  EXPECT_NE(pages[4].text.find("e = 0.1"), std::string::npos) << pages[4].text;
  EXPECT_NE(pages[5].text.find("δ = ∂L_b/∂z = (ŷ − q) / T"), std::string::npos) << pages[5].text;
  EXPECT_NE(pages[5].text.find("T = 2"), std::string::npos);
  EXPECT_EQ(gradflow::cli::cut_to_width("ŷ ŷ ŷ ŷ", 5), "ŷ ŷ …");
  EXPECT_EQ(gradflow::cli::display_width("x̂ \033[31m@\033[0m"), 3u);
}

namespace {

// The screens a run drew (each begins by clearing the terminal), without colour sequences, as lines.
std::vector<std::vector<std::string>> screens_of(const std::string& output) {
  std::vector<std::vector<std::string>> screens;
  const std::string clear = "\033[2J\033[H";
  for (size_t at = output.find(clear); at != std::string::npos;) {
    const size_t next = output.find(clear, at + clear.size());
    std::string text = output.substr(at + clear.size(), next == std::string::npos ? std::string::npos : next - at - clear.size());
    std::vector<std::string> lines;
    std::string line;
    for (char c : text) {
      if (c == '\n') {
        lines.push_back(line);
        line.clear();
      } else if (c != '\r') {
        line += c;
      }
    }
    lines.push_back(line);
    while (!lines.empty() && lines.back().empty()) lines.pop_back();  // the newline q leaves
    screens.push_back(lines);
    at = next;
  }
  return screens;
}

}  // namespace

TEST(StepperInteractive, ScreensFitEightyByTwentyFourAndScroll) {
  auto args = step_args("pty_80x24");
  args.insert(args.end(), {"--count", "4"});  // stage 1 draws four 8×8 images: longer than a screen
  // j, ↓, k, PgDn, PgUp, space (a screen on), →, ←, n, q
  const PtyRun run = run_on_pty(args, {"j", "\033[B", "k", "\033[6~", "\033[5~", " ", "\033[C", "\033[D", "n", "q"}, 24, 80);
  EXPECT_EQ(run.code, 0) << run.output;
  const auto screens = screens_of(run.output);
  ASSERT_EQ(screens.size(), 10u) << run.output;
  for (const auto& screen : screens) {
    EXPECT_LE(screen.size(), 24u);
    ASSERT_FALSE(screen.empty());
    EXPECT_EQ(screen[0].rfind("── stage ", 0), 0u) << screen[0];  // the header, always on top
    for (const auto& line : screen) EXPECT_LE(gradflow::cli::display_width(line), 80u) << line;
  }
  auto body = [&](size_t s, size_t line) { return screens[s][1 + line]; };
  // the keys line tells how long the body is: "lines 1-22/N ..."
  const std::string& keys = screens[0].back();
  ASSERT_EQ(keys.rfind("lines 1-22/", 0), 0u) << keys;
  const size_t total = std::stoul(keys.substr(11));
  ASSERT_GT(total, 24u);
  const size_t screen_on = std::min<size_t>(1 + 22, total - 22);  // the last screen stops at the end
  EXPECT_EQ(screens[0][0], "── stage 1/9: the input ──");
  EXPECT_EQ(body(1, 0), body(0, 1));   // j: one line down
  EXPECT_EQ(body(2, 0), body(0, 2));   // ↓: another
  EXPECT_EQ(body(3, 0), body(0, 1));   // k: one back
  const std::string from = "lines " + std::to_string(screen_on + 1) + "-";
  EXPECT_EQ(screens[4].back().rfind(from, 0), 0u) << screens[4].back();  // PgDn: a screen on (or to the end)
  if (screen_on < 22) {
    EXPECT_EQ(body(4, 0), body(0, screen_on));
  }
  EXPECT_EQ(body(5, 0), body(0, screen_on > 22 ? screen_on - 22 : 0));  // PgUp: a screen back
  EXPECT_EQ(screens[6][0], "── stage 1/9: the input ──");  // space: a screen on, still stage 1
  EXPECT_NE(body(4, 0), body(0, 0));
  EXPECT_EQ(screens[6].back().rfind(from, 0), 0u) << screens[6].back();
  EXPECT_EQ(screens[7][0], "── stage 2/9: forward, layer by layer ──");  // →
  EXPECT_EQ(screens[8][0], "── stage 1/9: the input ──");                  // ←
  EXPECT_EQ(body(8, 0), body(0, 0));  // a stage starts at its top
  EXPECT_EQ(screens[9][0], "── stage 2/9: forward, layer by layer ──");  // n
}

TEST(StepperCli, WidthOptionLaysOutEveryLine) {
  auto args = step_args("step_width");
  std::string command;
  for (const auto& a : args) command += " '" + a + "'";
  for (const int width : {60, 80}) {
    const auto run = gradflow::testing::run_cli(command + " --count 2 --width " + std::to_string(width));
    ASSERT_EQ(run.code, 0) << run.err;
    std::istringstream lines(run.out);
    size_t count = 0;
    for (std::string line; std::getline(lines, line); ++count) {
      EXPECT_LE(gradflow::cli::display_width(line), static_cast<size_t>(width)) << line;
    }
    EXPECT_GT(count, 50u);
  }
  const auto bad = gradflow::testing::run_cli(command + " --width 5");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(gradflow::testing::lines(bad.err), 1u) << bad.err;
}

TEST(StepperWeight, EachSamplesTermSumsToTheGradientAndMatchesFiniteDifferences) {
  Fixture f;
  Sgd sgd(f.model.parameters(), SgdOptions{});
  StepOptions options = at_rate(0.1);
  options.weight = parse_weight_entry("2.weight[1,3]");
  const StepTrace t = trace_step(f.model, sgd, f.x, f.y, options);
  ASSERT_TRUE(t.weight.has_value());
  const WeightDrill& w = *t.weight;
  EXPECT_TRUE(w.factored);
  ASSERT_EQ(w.terms.size(), 3u);
  double sum = 0;
  for (size_t b = 0; b < 3; ++b) {
    // the term is dy_b,1 · x_b,3, with dy = delta / B entering the last layer
    EXPECT_NEAR(w.dy[b], t.delta(static_cast<Eigen::Index>(b), 1) / 3.0, 1e-7);
    EXPECT_NEAR(w.terms[b], w.dy[b] * w.x[b], 1e-7);
    EXPECT_NEAR(w.numeric_terms[b], w.terms[b], 1e-5 + 1e-3 * std::fabs(w.terms[b]));
    sum += w.terms[b];
  }
  EXPECT_NEAR(sum, w.gradient, 1e-6);
  EXPECT_NEAR(w.numeric, w.gradient, 1e-5 + 1e-3 * std::fabs(w.gradient));
  // plain SGD: the entry moves by −lr · gradient
  EXPECT_NEAR(w.after - w.before, -0.1 * w.gradient, 1e-6);
  // the model's gradient was left as the optimizer needed it: the same step without --weight agrees
  Fixture g;
  Sgd plain(g.model.parameters(), SgdOptions{});
  const StepTrace u = trace_step(g.model, plain, g.x, g.y, at_rate(0.1));
  EXPECT_DOUBLE_EQ(u.loss_after, t.loss_after);

  const json j = t.to_json(false);
  EXPECT_EQ(j["weight"]["name"], "2.weight");
  EXPECT_EQ(j["weight"]["terms"].size(), 3u);
  EXPECT_LT(j["weight"]["relative_error"].get<double>(), 1e-3);

  // a vector entry: the bias, whose terms are dy_b,i
  Fixture h;
  Sgd other(h.model.parameters(), SgdOptions{});
  options.weight = parse_weight_entry("0.bias[2]");
  const StepTrace v = trace_step(h.model, other, h.x, h.y, options);
  EXPECT_FALSE(v.weight->factored);
  EXPECT_NEAR(v.weight->numeric, v.weight->gradient, 1e-5 + 1e-3 * std::fabs(v.weight->gradient));

  // bad entries
  for (const char* bad : {"2.weight", "2.weight[1]", "2.weight[a,b]", "[1]", "2.weight[1,-3]"}) {
    EXPECT_THROW(
        {
          Fixture k;
          Sgd s(k.model.parameters(), SgdOptions{});
          options.weight = parse_weight_entry(bad);
          trace_step(k.model, s, k.x, k.y, options);
        },
        InputError)
        << bad;
  }
  for (const char* missing : {"2.weight[4,0]", "2.weight[0,8]", "1.weight[0,0]", "9.bias[0]", "2.bias[0,0]"}) {
    Fixture k;
    Sgd s(k.model.parameters(), SgdOptions{});
    options.weight = parse_weight_entry(missing);
    EXPECT_THROW(trace_step(k.model, s, k.x, k.y, options), InputError) << missing;
  }
}

TEST(StepperCli, WeightAndStepsOnTheCommandLine) {
  using gradflow::testing::run_cli;
  auto args = step_args("step_steps");
  std::string command;
  for (const auto& a : args) command += " '" + a + "'";
  command += " --count 3";

  const auto one = run_cli(command + " --json");
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_FALSE(json::parse(one.out).contains("steps"));  // one step: the JSON as it always was

  const auto three = run_cli(command + " --json --steps 3 --weight '0.weight[2,5]'");
  ASSERT_EQ(three.code, 0) << three.err;
  const json j = json::parse(three.out);
  ASSERT_EQ(j["steps"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["steps"][0]["loss_before"].get<double>(), j["loss_before"].get<double>());
  for (size_t k = 0; k + 1 < 3; ++k) {
    EXPECT_NEAR(j["steps"][k + 1]["loss_before"].get<double>(), j["steps"][k]["loss_after"].get<double>(), 1e-6);
  }
  EXPECT_EQ(j["steps"][2]["parameters"].size(), 4u);
  EXPECT_EQ(j["steps"][2]["y_hat_y"].size(), 3u);
  EXPECT_EQ(j["weight"]["terms"].size(), 3u);

  const auto text = run_cli(command + " --steps 3 --weight '0.weight[2,5]'");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("stage 10/11: 0.weight[2,5], term by term"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("∂L/∂W[2,5] = Σ_b dy_b,2 · x_b,5"), std::string::npos);
  EXPECT_NE(text.out.find("stage 11/11: the 3 steps"), std::string::npos);
  EXPECT_NE(text.out.find("‖ΔW‖/‖W‖"), std::string::npos);

  for (const std::string bad : {" --weight '0.weight[8,0]'", " --weight nonsense", " --steps 0"}) {
    const auto refused = run_cli(command + bad);
    EXPECT_EQ(refused.code, 2) << bad;
    EXPECT_EQ(gradflow::testing::lines(refused.err), 1u) << bad << ": " << refused.err;
  }
}
