// The stepper: what it records is checked against independent computations; the gradient check
// catches a wrong backward; the interactive mode is driven through a pseudo-terminal.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>

#include "gradflow/config.h"
#include "gradflow/gradcheck.h"
#include "gradflow/layer_registry.h"
#include "gradflow/optim/sgd.h"
#include "gradflow/stepper.h"
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

// Runs gradflow with `args` on a pseudo-terminal, typing each key once the screen stops changing.
PtyRun run_on_pty(const std::vector<std::string>& args, const std::string& keys) {
  int master = -1;
  winsize size{60, 120, 0, 0};
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
  for (char key : keys) {
    if (write(master, &key, 1) != 1) break;
    if (!drain(500)) break;
  }
  drain(1000);
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
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
  EXPECT_NE(run.output.find("[b] back"), std::string::npos);
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
