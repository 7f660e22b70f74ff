// Faults: bad input through the command line (exit 2, one line naming the file, nothing left
// that looks complete), divergence (exit 3, last good checkpoint kept), and interrupted runs
// that resume bit-identical to uninterrupted ones.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/kernels/bfloat16.h"
#include "gradflow/train.h"
#include "gradflow/train_state.h"
#include "test_cli.h"
#include "test_checkpoints.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const json kSgd = {{"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 1e-4}};

json config_for(const std::string& data, int epochs = 4, const json& optimizer = kSgd) {
  return json{{"name", "faults"},
              {"seed", 9},
              {"threads", 1},
              {"data", {{"dir", data}, {"validation", 100}}},
              {"model",
               {{"input", 64},
                {"layers",
                 {{{"type", "dense"}, {"units", 16}}, {{"type", "batch_norm"}}, {{"type", "relu"}},
                  {{"type", "dropout"}, {"p", 0.2}}, {{"type", "dense"}, {"units", 2}}}}}},
              {"optimizer", optimizer},
              {"schedule", {{"type", "cosine"}, {"warmup_epochs", 0.5}}},
              {"training", {{"epochs", epochs}, {"batch_size", 32}, {"checkpoint_every", 1}, {"log_grad_every", 3}}}};
}


// Raises the stop flag at a chosen point, as the signal handler would.
struct StopAt : TrainObserver {
  std::atomic<bool>& flag;
  int64_t epoch, batch;  // batch 0: at the end of the epoch
  int64_t current = 0;
  StopAt(std::atomic<bool>& f, int64_t e, int64_t b) : flag(f), epoch(e), batch(b) {}
  void on_epoch_begin(int64_t e, int64_t, int64_t) override { current = e; }
  void on_batch(int64_t done, double, double) override {
    if (current == epoch && done == batch) flag = true;
  }
  void on_epoch_end(const EpochMetrics& m) override {
    if (batch == 0 && m.epoch == epoch) flag = true;
  }
};

}  // namespace

// (epoch, batch to stop at; batch 0: the end of the epoch), the optimizer, and a JSON merge patch
// of the rest of the config
class Resume : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, json, json>> {};

TEST_P(Resume, InterruptedRunEndsBitIdentical) {
  const std::string data = write_separable_dataset("resume_data", 500, 60);
  json spec = config_for(data, 4, std::get<2>(GetParam()));
  spec.merge_patch(std::get<3>(GetParam()));
  if (spec.value("precision", "fp32") == "bf16" && !bf16_products_built()) GTEST_SKIP() << "built without oneDNN";
  const Config config = parse_config(spec);
  const std::string straight = temp_dir("resume_straight"), broken = temp_dir("resume_broken");
  train(config, straight);

  std::atomic<bool> stop{false};
  StopAt observer(stop, std::get<0>(GetParam()), std::get<1>(GetParam()));
  TrainControl control;
  control.stop = &stop;
  const TrainSummary first = train(config, broken, &observer, control);
  ASSERT_TRUE(first.interrupted);
  EXPECT_FALSE(fs::exists(broken + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(broken + "/summary.json"));

  TrainState state = load_train_state(broken + "/last.safetensors");
  EXPECT_EQ(state.position.step, first.position.step);
  control.stop = nullptr;
  control.resume = &state;
  const TrainSummary second = train(config, broken, nullptr, control);
  ASSERT_FALSE(second.interrupted);

  expect_same_tensors(straight + "/model.safetensors", broken + "/model.safetensors");
  EXPECT_DOUBLE_EQ(second.test.loss, json::parse(read_all(straight + "/summary.json"))["test_loss"].get<double>());
  // the logs hold each epoch and step once, with the same losses
  std::ifstream a(straight + "/metrics.jsonl"), b(broken + "/metrics.jsonl");
  std::string la, lb;
  int epochs = 0;
  while (std::getline(a, la)) {
    ASSERT_TRUE(std::getline(b, lb));
    EXPECT_EQ(json::parse(la)["train_loss"], json::parse(lb)["train_loss"]);
    EXPECT_EQ(json::parse(la)["validation_loss"], json::parse(lb)["validation_loss"]);
    ++epochs;
  }
  EXPECT_EQ(epochs, 4);
  EXPECT_FALSE(std::getline(b, lb));
  EXPECT_EQ(read_all(straight + "/grads.jsonl"), read_all(broken + "/grads.jsonl"));
  if (const json& c = config.optimizer.at("max_norm"); c.is_number()) {  // the constraint held to the end
    const StoredTensor w = read_safetensors(broken + "/model.safetensors").tensors.at("0.weight");
    for (int64_t r = 0; r < w.shape[0]; ++r) {
      double squared = 0;
      for (int64_t i = 0; i < w.shape[1]; ++i) squared += std::pow(double(w.values[size_t(r * w.shape[1] + i)]), 2);
      EXPECT_LE(std::sqrt(squared), c.get<double>() * (1 + 1e-6)) << "row " << r;
    }
  }
}

// mid-epoch in epoch 2, and at the end of epoch 2, with every kind of optimizer state; the
// moving average of the weights (training.ema, saved as ema.* in last.safetensors); the
// max-norm constraint (c = 0.5 is under the initial rows' norms, about 0.58: it acts from the
// first step); Gaussian noise layers, whose generators resume with the run
const json kAdam = {{"type", "adam"}, {"lr", 0.01}, {"weight_decay", 1e-4}, {"amsgrad", true}};
const json kAdamW = {{"type", "adamw"}, {"lr", 0.01}};
const json kSgdMaxNorm = {{"lr", 0.05}, {"momentum", 0.9}, {"max_norm", 0.5}};
const json kAdamWMaxNorm = {{"type", "adamw"}, {"lr", 0.01}, {"max_norm", 0.5}};
const json kSameConfig = json::object();
const json kAverage = {{"training", {{"ema", 0.9}}}};
// Gaussian noise on the input and on a hidden layer, beside dropout: three generators of their own
const json kNoise = {{"model",
                      {{"layers",
                        {{{"type", "gaussian_noise"}, {"std", 0.3}}, {{"type", "dense"}, {"units", 16}},
                         {{"type", "batch_norm"}}, {{"type", "relu"}}, {{"type", "gaussian_noise"}, {"std", 0.2}},
                         {{"type", "dropout"}, {"p", 0.2}}, {{"type", "dense"}, {"units", 2}}}}}}};
// adversarial training (two passes a step: the noise and masks of both resume)
const json kAdversarial = {{"training", {{"adversarial", {{"epsilon", 0.1}}}}}, {"model", kNoise["model"]}};
// mixup: its generator (λ and π of every step) resumes beside the layers'; with adversarial training too
const json kMixup = {{"training", {{"mixup", {{"alpha", 0.4}}}}}, {"model", kNoise["model"]}};
const json kMixupAdversarial = {{"training", {{"mixup", {{"alpha", 0.4}}}, {"adversarial", {{"epsilon", 0.1}}}}}};
// label smoothing in the head, and the one-cycle schedule (its position is the step's)
const json kSmoothingOneCycle = {{"model", {{"head", {{"label_smoothing", 0.1}}}}},
                                 {"schedule", {{"type", "one_cycle"}, {"warmup_epochs", 0}}}};
// input dropout: a dropout layer first, whose masks resume with the run
const json kInputDropout = {{"model",
                             {{"layers",
                               {{{"type", "dropout"}, {"p", 0.2}}, {{"type", "dense"}, {"units", 16}},
                                {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}}};
// the dense layers' products in bf16 (the recipes' precision), with the noise layers
const json kBf16 = {{"precision", "bf16"}, {"model", kNoise["model"]}};
INSTANTIATE_TEST_SUITE_P(Points, Resume,
                         ::testing::Values(std::make_tuple(int64_t(2), int64_t(5), kSgd, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(0), kSgd, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(5), kAdam, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(0), kAdam, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(5), kAdamW, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgdMaxNorm, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(0), kAdamWMaxNorm, kSameConfig),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgd, kAverage),
                                           std::make_tuple(int64_t(2), int64_t(0), kAdam, kAverage),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgd, kNoise),
                                           std::make_tuple(int64_t(2), int64_t(0), kAdam, kNoise),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgd, kAdversarial),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgd, kMixup),
                                           std::make_tuple(int64_t(2), int64_t(0), kAdam, kMixup),
                                           std::make_tuple(int64_t(2), int64_t(5), kAdam, kMixupAdversarial),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgd, kSmoothingOneCycle),
                                           std::make_tuple(int64_t(2), int64_t(5), kSgd, kInputDropout),
                                           std::make_tuple(int64_t(2), int64_t(5), kAdam, kBf16),
                                           std::make_tuple(int64_t(2), int64_t(0), kAdam, kBf16)));

TEST(Resume, RefusesTheStateOfAnotherOptimizerNamingTheFile) {
  const std::string data = write_separable_dataset("resume_other", 300, 40);
  const std::string dir = temp_dir("resume_other_run");
  std::ofstream(dir + "/c.json") << config_for(data, 1).dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const std::string last = dir + "/run/last.safetensors";
  const CliRun adam = run_cli("train --resume " + last +
                              " --set optimizer.type=adam --set optimizer.momentum=null --set optimizer.nesterov=null");
  EXPECT_EQ(adam.code, 2);
  EXPECT_EQ(adam.err, "gradflow: error: " + last + ": written by the sgd optimizer; it cannot resume with adam\n");
  // without removing SGD's options, the config says which optimizer they belong to
  const CliRun left_over = run_cli("train --resume " + last + " --set optimizer.type=adam");
  EXPECT_EQ(left_over.code, 2);
  EXPECT_NE(left_over.err.find("/optimizer/momentum: an option of sgd, not of adam"), std::string::npos) << left_over.err;
}

TEST(Resume, RefusesACheckpointThatIsNotResumable) {
  const std::string data = write_separable_dataset("resume_plain", 300, 40);
  const std::string run = temp_dir("resume_plain_run");
  json c = config_for(data, 1);
  train(parse_config(c), run);
  EXPECT_THROW(load_train_state(run + "/model.safetensors"), InputError);
  const CliRun r = run_cli("train --resume " + run + "/model.safetensors");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a resumable checkpoint"), std::string::npos) << r.err;
}

TEST(Signals, SigintSavesAndResumeMatchesAnUninterruptedRun) {
  const std::string data = write_separable_dataset("signal_data", 6000, 100);
  const std::string dir = temp_dir("signal_run");
  json c = config_for(data, 60);
  c["training"]["checkpoint_every"] = 0;  // only the interrupt writes last.safetensors
  std::ofstream(dir + "/c.json") << c.dump();

  const pid_t pid = fork();
  if (pid == 0) {
    const int out = ::open((dir + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 2);
    execl(GRADFLOW_BINARY, GRADFLOW_BINARY, "train", "--config", (dir + "/c.json").c_str(), "--out",
          (dir + "/run").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // wait until training has started, then interrupt it
  for (int i = 0; i < 200 && read_all(dir + "/err").find("epoch 2/60") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_all(dir + "/err");
  EXPECT_NE(read_all(dir + "/err").find("resume with: " + std::string(GRADFLOW_BINARY) + " train --resume"),
            std::string::npos);
  ASSERT_TRUE(fs::exists(dir + "/run/last.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/run/model.safetensors"));

  const CliRun resumed = run_cli("train --resume " + dir + "/run/last.safetensors --json");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const CliRun straight = run_cli("train --config " + dir + "/c.json --out " + dir + "/straight --json");
  ASSERT_EQ(straight.code, 0) << straight.err;
  expect_same_tensors(dir + "/straight/model.safetensors", dir + "/run/model.safetensors");
}

TEST(Divergence, StopsWithCodeThreeAndKeepsTheLastGoodCheckpoint) {
  const std::string data = write_separable_dataset("diverge_data", 500, 60);
  const std::string dir = temp_dir("diverge");
  json c = config_for(data, 2);
  std::ofstream(dir + "/c.json") << c.dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set training.epochs=1").code, 0);
  // continue the finished epoch with an absurd learning rate
  const std::string last = dir + "/run/last.safetensors";
  const std::string before = read_all(last);
  const CliRun r = run_cli("train --resume " + last + " --set training.epochs=3 --set optimizer.lr=1e30");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("training diverged at epoch 2, step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("try a lower /optimizer/lr"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the last good checkpoint is " + last), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.err.substr(r.err.find("gradflow: error"))), 1u);
  EXPECT_EQ(read_all(last), before);
  EXPECT_FALSE(fs::exists(dir + "/run/summary.json"));
}

namespace {
// A dataset directory whose training images file is replaced by `bytes` (raw or as .gz).
std::string dataset_with(const std::string& name, const std::vector<uint8_t>& bytes, bool gz) {
  const std::string dir = write_separable_dataset(name, 200, 20);
  fs::remove(dir + "/train-images-idx3-ubyte");
  write_bytes(dir + "/train-images-idx3-ubyte" + (gz ? ".gz" : ""), bytes);
  return dir;
}
}  // namespace

TEST(BadInput, EveryCaseExitsTwoWithOneLineAndNoOutputs) {
  std::vector<uint8_t> images;
  for (int i = 0; i < 200 * 64; ++i) images.push_back(static_cast<uint8_t>(i));
  auto good = idx_bytes({200, 8, 8}, images);
  auto wrong_magic = good;
  wrong_magic[2] = 0x0B;
  auto truncated = good;
  truncated.resize(truncated.size() - 100);
  const auto mismatch = idx_bytes({150, 8, 8}, std::vector<uint8_t>(150 * 64, 1));
  const std::vector<uint8_t> corrupt_gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef};

  struct Case {
    std::string name, data_dir, fragment, set;
  };
  const std::string labels_bad = write_separable_dataset("bad_labels", 200, 20);
  write_bytes(labels_bad + "/train-labels-idx1-ubyte", idx_bytes({200}, std::vector<uint8_t>(200, 7)));
  const std::string missing = temp_dir("bad_missing");
  std::vector<Case> cases = {
      {"wrong magic", dataset_with("bad_magic", wrong_magic, false), "wrong magic number", ""},
      {"truncated", dataset_with("bad_trunc", truncated, false), "truncated", ""},
      {"count mismatch", dataset_with("bad_count", mismatch, false), "holds 200 labels but", ""},
      {"empty file", dataset_with("bad_empty", {}, false), "empty file", ""},
      {"corrupt gz", dataset_with("bad_gz", corrupt_gz, true), "corrupt gzip", ""},
      {"label out of range", labels_bad,
       "outputs 2 classes, the data in " + labels_bad + " has 8 (from 1 + the largest label, 7, in " + labels_bad +
           "/train-labels-idx1-ubyte)",
       ""},
      {"missing file", missing, "missing data file", ""},
      {"input size", write_separable_dataset("bad_input", 200, 20), "config error at /model/input: expected 64", "model.input=784"},
  };
  for (const auto& c : cases) {
    const std::string dir = temp_dir("bad_case");
    json config = config_for(c.data_dir, 1);
    std::ofstream(dir + "/c.json") << config.dump();
    const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run" +
                             (c.set.empty() ? "" : " --set " + c.set));
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.err;
    // logs may come first; the run ends with exactly one error line
    const auto at = r.err.find("gradflow: error: ");
    ASSERT_NE(at, std::string::npos) << c.name << ": " << r.err;
    EXPECT_EQ(lines(r.err.substr(at)), 1u) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.fragment), std::string::npos) << c.name << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir + "/run/model.safetensors")) << c.name;
    EXPECT_FALSE(fs::exists(dir + "/run/summary.json")) << c.name;
  }

  // config values
  const std::string data = write_separable_dataset("bad_config", 200, 20);
  const std::string dir = temp_dir("bad_config_run");
  std::ofstream(dir + "/c.json") << config_for(data, 1).dump();
  std::ofstream(dir + "/broken.json") << "{\"name\": \"x\",";
  for (const auto& [args, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"--config " + dir + "/broken.json", "broken.json: malformed JSON"},
           {"--config " + dir + "/c.json --set optimizer.lr=-1", "config error at /optimizer/lr: expected a number > 0, got -1"},
           {"--config " + dir + "/c.json --set training.batch_size=0", "config error at /training/batch_size"},
           {"--config " + dir + "/c.json --set training.epochs=0", "config error at /training/epochs"},
           {"--config " + dir + "/c.json --set model.layers.0.units=0", "config error at /model/layers/0/units"},
           {"--config " + dir + "/c.json --set training.speed=3", "config error at /training/speed: unknown key"},
           {"--config " + dir + "/c.json --set seed=\"x\"", "config error at /seed: expected an integer"},
       }) {
    const CliRun r = run_cli("train " + args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  }
}

TEST(BadInput, DamagedCheckpointsExitTwo) {
  const std::string data = write_separable_dataset("bad_ckpt_data", 300, 40);
  const std::string dir = temp_dir("bad_ckpt");
  std::ofstream(dir + "/c.json") << config_for(data, 1).dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const std::string good = read_all(dir + "/run/model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  std::string bad_length = good;
  const uint64_t huge = 1ull << 50;
  std::memcpy(bad_length.data(), &huge, 8);
  std::string bad_json = good;
  bad_json[8] = 'x';
  for (const auto& [name, bytes, fragment] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"truncated", good.substr(0, good.size() - 4), "fall outside"},  // the last float cut off
           {"header length", bad_length, "header length"},
           {"header json", bad_json, "header is not a JSON object"},
           {"empty", "", "too short"},
       }) {
    const std::string path = dir + "/" + name + ".safetensors";
    std::ofstream(path, std::ios::binary) << bytes;
    for (const char* command : {"eval", "calibrate", "step"}) {
      const CliRun r = run_cli(std::string(command) + " --checkpoint '" + path + "'");
      EXPECT_EQ(r.code, 2) << command << " " << name << ": " << r.err;
      EXPECT_EQ(lines(r.err), 1u) << r.err;
      EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    }
  }
}

namespace {
// Starts `gradflow train` on a long run in the background with stdout and stderr going to
// `output` (a file descriptor), and waits until its first epoch is logged in metrics.jsonl.
pid_t start_long_run(const std::string& config, const std::string& run, int output) {
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(output, 1);
    dup2(output, 2);
    execl(GRADFLOW_BINARY, GRADFLOW_BINARY, "train", "--config", config.c_str(), "--out", run.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 400 && read_all(run + "/metrics.jsonl").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return pid;
}

std::string long_config(const std::string& name) {
  const std::string data = write_separable_dataset(name + "_data", 6000, 100);
  const std::string dir = temp_dir(name);
  json c = config_for(data, 5000);  // far longer than the test: it is always interrupted
  c["training"]["checkpoint_every"] = 0;  // only the interrupt writes last.safetensors
  std::ofstream(dir + "/c.json") << c.dump();
  return dir;
}
}  // namespace

TEST(Signals, InterruptThroughAClosedPipeStillSaves) {
  // `gradflow train 2>&1 | tee log`, then Ctrl-C: tee is gone, every log line meets a closed pipe
  const std::string dir = long_config("pipe_run");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = start_long_run(dir + "/c.json", dir + "/run", fds[1]);
  close(fds[1]);
  close(fds[0]);  // the reader goes away
  ASSERT_FALSE(read_all(dir + "/run/metrics.jsonl").empty());
  // epochs take milliseconds: let it log a few more lines into the closed pipe first
  const size_t epochs = lines(read_all(dir + "/run/metrics.jsonl"));
  for (int i = 0; i < 400 && lines(read_all(dir + "/run/metrics.jsonl")) < epochs + 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_NO_THROW(load_train_state(dir + "/run/last.safetensors"));
}

TEST(RunDirectory, ASecondProcessIsRefusedNamingTheFirst) {
  const std::string dir = long_config("lock_run");
  const int log = ::open((dir + "/first.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const pid_t first = start_long_run(dir + "/c.json", dir + "/run", log);
  close(log);
  const std::string config_before = read_all(dir + "/run/config.json");
  const CliRun second = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --force");
  EXPECT_EQ(second.code, 2);
  EXPECT_EQ(lines(second.err), 1u) << second.err;
  EXPECT_NE(second.err.find("another gradflow process is training into this run directory (PID " + std::to_string(first) + ")"),
            std::string::npos)
      << second.err;
  EXPECT_EQ(read_all(dir + "/run/config.json"), config_before);
  kill(first, SIGINT);
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 130);
  for (const auto& entry : fs::directory_iterator(dir + "/run")) {
    EXPECT_EQ(entry.path().extension(), entry.path().extension() == ".tmp" ? ".none" : entry.path().extension())
        << "a temporary file was left: " << entry.path();
  }
}

TEST(RunDirectory, ANewRunNeverReplacesAnEarlierOneUnlessForced) {
  const std::string data = write_separable_dataset("reuse_data", 300, 40);
  const std::string dir = temp_dir("reuse_run");
  json c = config_for(data, 1);
  std::ofstream(dir + "/c.json") << c.dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const std::string summary = read_all(dir + "/run/summary.json");
  const std::string metrics = read_all(dir + "/run/metrics.jsonl");

  const CliRun again = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set seed=2");
  EXPECT_EQ(again.code, 2);
  EXPECT_EQ(lines(again.err), 1u) << again.err;
  EXPECT_NE(again.err.find("holds an earlier run (metrics.jsonl, grads.jsonl, last.safetensors, best.safetensors, model.safetensors, summary.json"),
            std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos);
  EXPECT_EQ(read_all(dir + "/run/summary.json"), summary);
  EXPECT_EQ(read_all(dir + "/run/metrics.jsonl"), metrics);

  // an interrupted run is pointed to --resume
  fs::remove(dir + "/run/summary.json");
  const CliRun interrupted = run_cli("train --config " + dir + "/c.json --out " + dir + "/run");
  EXPECT_EQ(interrupted.code, 2);
  EXPECT_NE(interrupted.err.find("resume it with gradflow train --resume " + dir + "/run/last.safetensors"),
            std::string::npos)
      << interrupted.err;

  const CliRun forced = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set seed=2 --force");
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(read_all(dir + "/run/summary.json"), summary);
}

TEST(Resume, AFinishedRunIsLeftAloneUntilExtended) {
  const std::string data = write_separable_dataset("finished_data", 300, 40);
  const std::string dir = temp_dir("finished_run");
  std::ofstream(dir + "/c.json") << config_for(data, 2).dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const std::string summary = read_all(dir + "/run/summary.json");
  const std::string last = dir + "/run/last.safetensors";

  const CliRun finished = run_cli("train --resume " + last);
  EXPECT_EQ(finished.code, 2);
  EXPECT_EQ(finished.err, "gradflow: error: " + last +
                              ": the run is finished (2 of 2 epochs); --set training.epochs=N with N > 2 extends it\n");
  EXPECT_EQ(read_all(dir + "/run/summary.json"), summary);

  const CliRun extended = run_cli("train --resume " + last + " --set training.epochs=3 --json");
  ASSERT_EQ(extended.code, 0) << extended.err;
  EXPECT_EQ(json::parse(extended.out)["epochs"], 3);
}

TEST(BadInput, StepIndexNearTheLargestIntegerIsRefused) {
  const std::string data = write_separable_dataset("step_index", 200, 20);
  const std::string dir = temp_dir("step_index_run");
  std::ofstream(dir + "/c.json") << config_for(data, 1).dump();
  const CliRun r = run_cli("step --config " + dir + "/c.json --index 9223372036854775000 --count 1000");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--index 9223372036854775000 --count 1000 goes past the 20 samples of the test split"),
            std::string::npos)
      << r.err;
}

TEST(Resume, AnEditedConfigJsonIsRefusedNamingTheKey) {
  const std::string data = write_separable_dataset("edited_data", 300, 40);
  const std::string dir = temp_dir("edited_run");
  std::ofstream(dir + "/c.json") << config_for(data, 2).dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const std::string path = dir + "/run/config.json";
  const std::string original = read_all(path);
  json edited = json::parse(original);
  edited["training"]["epochs"] = 3;
  std::ofstream(path) << edited.dump(2);
  const std::string summary = read_all(dir + "/run/summary.json");

  const CliRun r = run_cli("train --resume " + dir + "/run/last.safetensors --set training.epochs=3");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gradflow: error: " + path +
                       ": edited after the checkpoint was written (at /training/epochs); a resume trains with the "
                       "checkpoint's config: give the change as --set, and restore the file\n");
  EXPECT_EQ(read_all(dir + "/run/summary.json"), summary);
  std::ofstream(path) << original;
  EXPECT_EQ(run_cli("train --resume " + dir + "/run/last.safetensors --set training.epochs=3").code, 0);
}

TEST(BadInput, EvaluatingAnEmptySplitIsRefused) {
  const std::string data = write_separable_dataset("empty_split", 200, 20);
  const std::string dir = temp_dir("empty_split_run");
  json c = config_for(data, 1);
  c["data"]["validation"] = 0;
  c["calibration"] = {{"method", "none"}};
  std::ofstream(dir + "/c.json") << c.dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const CliRun r = run_cli("eval --checkpoint " + dir + "/run/model.safetensors --split validation");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("gradflow: error: the validation split of " + data + " is empty (data.validation = 0)"),
            std::string::npos)
      << r.err;
  const CliRun calibrate = run_cli("calibrate --checkpoint " + dir + "/run/model.safetensors");
  EXPECT_EQ(calibrate.code, 2) << calibrate.err;
}

TEST(Divergence, AFiniteBlowUpStopsWithCodeThreeToo) {
  const std::string data = write_separable_dataset("blowup_data", 500, 60);
  const std::string dir = temp_dir("blowup_run");
  json c = config_for(data, 4);
  c["optimizer"] = {{"type", "sgd"}, {"lr", 1000.0}};
  c["schedule"] = {{"type", "constant"}};
  std::ofstream(dir + "/c.json") << c.dump();
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("training diverged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("try a lower /optimizer/lr"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/run/summary.json"));
  EXPECT_FALSE(fs::exists(dir + "/run/model.safetensors"));
}
