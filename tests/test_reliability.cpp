// Reliability beyond bad values: inputs that promise more than they hold (size bombs), the one
// error contract of the command line (parse errors, file-system errors, file-size limits, files
// of the wrong JSON type), training that stalls at chance, and runs killed at random points.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "gradflow/checkpoint.h"
#include "gradflow/train_state.h"
#include "test_cli.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

json small_config(const std::string& data, int epochs) {
  return json{{"name", "reliability"},
              {"seed", 3},
              {"threads", 1},
              {"data", {{"dir", data}, {"validation", 100}}},
              {"model",
               {{"input", 64},
                {"layers", {{{"type", "dense"}, {"units", 16}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}},
              {"optimizer", {{"lr", 0.05}, {"momentum", 0.9}}},
              {"training", {{"epochs", epochs}, {"batch_size", 32}, {"checkpoint_every", 1}}}};
}

// A trained model of 64 inputs and 2 classes, for the commands that need a checkpoint.
std::string trained_checkpoint(const std::string& name) {
  const std::string data = write_separable_dataset(name + "_data", 300, 40);
  const std::string dir = temp_dir(name);
  std::ofstream(dir + "/c.json") << small_config(data, 1).dump();
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run");
  EXPECT_EQ(r.code, 0) << r.err;
  return dir + "/run/model.safetensors";
}

// The result of `gradflow ARGS` run directly (no shell), with a resource limit set in the child,
// and the child's peak resident memory in MiB.
struct LimitedRun {
  int code = -1;
  std::string err;
  double peak_mib = 0;
};

// Starts `gradflow ARGS` (no shell), stdout to /dev/null and stderr to `err`, with a resource
// limit when `resource` ≥ 0.
pid_t spawn(const std::vector<std::string>& args, const std::string& err, int resource = -1, rlim_t limit = 0) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (resource >= 0) {
    const rlimit r{limit, limit};
    setrlimit(resource, &r);
  }
  freopen("/dev/null", "w", stdout);
  freopen(err.c_str(), "w", stderr);
  std::vector<char*> argv{const_cast<char*>(GRADFLOW_BINARY)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(GRADFLOW_BINARY, argv.data());
  _exit(127);
}

LimitedRun run_limited(const std::vector<std::string>& args, int resource = -1, rlim_t limit = 0) {
  const std::string dir = temp_dir("limited_io");
  const pid_t pid = spawn(args, dir + "/err", resource, limit);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  LimitedRun out;
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  out.err = read_all(dir + "/err");
  out.peak_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  return out;
}

// Ends with exactly one "gradflow: error: " line holding `fragment`, exit code 2.
void expect_one_error_line(const std::string& what, int code, const std::string& err, const std::string& fragment) {
  EXPECT_EQ(code, 2) << what << ": " << err;
  const auto at = err.find("gradflow: error: ");
  ASSERT_NE(at, std::string::npos) << what << ": " << err;
  EXPECT_EQ(lines(err.substr(at)), 1u) << what << ": " << err;
  EXPECT_NE(err.find(fragment), std::string::npos) << what << ": " << err;
}

}  // namespace

TEST(SizeBombs, AGzipFileIsInflatedNoFurtherThanItsHeaderPromises) {
  // 512 MiB of zeros behind a header promising 20 images of 8 × 8: about 500 kB of gzip
  const std::string dir = write_separable_dataset("bomb_data", 200, 20);
  fs::remove(dir + "/train-images-idx3-ubyte");
  const std::string bomb = dir + "/train-images-idx3-ubyte.gz";
  {
    gzFile f = gzopen(bomb.c_str(), "wb1");
    const std::vector<uint8_t> header = idx_bytes({200, 8, 8}, {});
    gzwrite(f, header.data(), static_cast<unsigned>(header.size()));
    const std::vector<uint8_t> zeros(1 << 20, 0);
    for (int i = 0; i < 512; ++i) gzwrite(f, zeros.data(), static_cast<unsigned>(zeros.size()));
    gzclose(f);
  }
  ASSERT_LT(fs::file_size(bomb), 4u << 20);
  const std::string run = temp_dir("bomb_run");
  std::ofstream(run + "/c.json") << small_config(dir, 1).dump();
  const LimitedRun r = run_limited({"train", "--config", run + "/c.json", "--out", run + "/run"});
  expect_one_error_line("gzip bomb", r.code, r.err, bomb + ": inflates to more than the 12800 bytes of data its header promises");
  EXPECT_LT(r.peak_mib, 256) << "inflated far past the promise";
  EXPECT_FALSE(fs::exists(run + "/run/model.safetensors"));

  // a header promising more than gradflow reads is refused before anything is allocated
  write_gzip(bomb, idx_bytes({4000000000u, 28, 28}, std::vector<uint8_t>(100, 0)));
  const CliRun huge = run_cli("train --config " + run + "/c.json --out " + run + "/run2");
  expect_one_error_line("huge promise", huge.code, huge.err,
                        bomb + ": the header promises 3136000000000 bytes of data, more than the 4 GiB gradflow reads");
}

TEST(SizeBombs, PicturesAreMeasuredBeforeTheyAreDecoded) {
  const std::string model = trained_checkpoint("pictures_model");
  const std::string dir = temp_dir("pictures");
  // 19 bytes claiming 32767 × 32767 pixels: a gigabyte once decoded
  std::ofstream(dir + "/huge.pgm", std::ios::binary) << "P5 32767 32767 255\n";
  LimitedRun r = run_limited({"predict", "--checkpoint", model, dir + "/huge.pgm"});
  expect_one_error_line("huge PGM", r.code, r.err,
                        dir + "/huge.pgm: a picture of 32767 × 32767 pixels, more than the 40000000 read (--max-pixels raises the limit)");
  EXPECT_LT(r.peak_mib, 256);

  // a file shorter than its pixels: stb_image would fill the rest with black and predict it
  std::ofstream(dir + "/short.pgm", std::ios::binary) << "P5 300 300 255\n" << std::string(100, '\x7f');
  expect_one_error_line("short PGM", run_cli("predict --checkpoint " + model + " " + dir + "/short.pgm").code,
                        run_cli("predict --checkpoint " + model + " " + dir + "/short.pgm").err,
                        dir + "/short.pgm: truncated: its 300 × 300 pixels need a file of at least 90000 bytes, it has 115");
  // a BMP header of 1000 × 1000 pixels, 24 bits, uncompressed, with no pixels behind it
  std::vector<uint8_t> bmp(54, 0);
  auto put = [&](size_t at, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) bmp[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
  };
  bmp[0] = 'B', bmp[1] = 'M';
  put(2, 54 + 3000000, 4), put(10, 54, 4), put(14, 40, 4), put(18, 1000, 4), put(22, 1000, 4), put(26, 1, 2), put(28, 24, 2);
  write_bytes(dir + "/short.bmp", bmp);
  const CliRun short_bmp = run_cli("predict --checkpoint " + model + " " + dir + "/short.bmp");
  expect_one_error_line("short BMP", short_bmp.code, short_bmp.err, dir + "/short.bmp: truncated: its 1000 × 1000 pixels need a file of at least 3000054 bytes");

  // the cap is an option: a 100 × 100 picture passes by default, not under --max-pixels 5000
  std::ofstream(dir + "/ok.pgm", std::ios::binary) << "P5 100 100 255\n" << std::string(10000, '\x20');
  EXPECT_EQ(run_cli("predict --checkpoint " + model + " " + dir + "/ok.pgm").code, 0);
  const CliRun capped = run_cli("predict --checkpoint " + model + " " + dir + "/ok.pgm --max-pixels 5000");
  expect_one_error_line("capped", capped.code, capped.err, "100 × 100 pixels, more than the 5000 read");
}

TEST(SizeBombs, RunningOutOfMemoryIsExitTwo) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit";
  const std::string data = write_separable_dataset("oom_data", 200, 20);
  const std::string dir = temp_dir("oom_run");
  json c = small_config(data, 1);
  // 67 M parameters, just under the size cap: weights, gradients and momentum need 800 MB
  c["model"]["layers"] = {{{"type", "dense"}, {"units", 1000000}}, {{"type", "dense"}, {"units", 2}}};
  std::ofstream(dir + "/c.json") << c.dump();
  const LimitedRun r = run_limited({"train", "--config", dir + "/c.json", "--out", dir + "/run"}, RLIMIT_AS, 600u << 20);
  expect_one_error_line("out of memory", r.code, r.err, "out of memory");
}

TEST(ErrorContract, CommandLineMistakesAreOneLineNamingTheNearestName) {
  for (const auto& [args, expected] : std::vector<std::pair<std::string, std::string>>{
           {"trian", "gradflow: error: unknown command 'trian'; did you mean train? (gradflow --help lists the commands)\n"},
           {"", "gradflow: error: a command is required: train, eval, step, gradcheck, calibrate, predict, report, layers, "
                "optimizers, backends, bench, sweep, compare, completion (gradflow --help)\n"},
           {"train --confg c.json", "gradflow: error: train: unknown option --confg; did you mean --config? (gradflow train --help)\n"},
           {"eval", "gradflow: error: eval: --checkpoint is required (gradflow eval --help)\n"},
           {"eval --checkpoint m --split tset", "gradflow: error: eval: --split: tset not in {test,validation,train} (gradflow eval --help)\n"},
           {"--log-level loud layers", "gradflow: error: --log-level: loud not in {trace,debug,info,warn,error,critical,off} (gradflow --help)\n"},
       }) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err, expected) << args;
  }
  const CliRun help = run_cli("train --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--config"), std::string::npos);
}

TEST(ErrorContract, FileSystemErrorsNameThePath) {
  const std::string data = write_separable_dataset("fs_data", 200, 20);
  const std::string dir = temp_dir("fs_run");
  std::ofstream(dir + "/c.json") << small_config(data, 1).dump();
  const std::string long_name = dir + "/" + std::string(300, 'a');
  for (const auto& [out, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"/proc/gradflow_run", "/proc/gradflow_run: cannot create the run directory"},
           {long_name, long_name + ": cannot create the run directory: File name too long"},
           {dir + "/c.json/run", dir + "/c.json/run: cannot create the run directory"},
       }) {
    const CliRun r = run_cli("train --config " + dir + "/c.json --out " + out);
    expect_one_error_line(out, r.code, r.err, fragment);
  }
  const std::string model = trained_checkpoint("fs_model");
  const CliRun logits = run_cli("eval --checkpoint " + model + " --save-logits /proc/self/gradflow.npy");
  expect_one_error_line("logits into /proc", logits.code, logits.err, "/proc/self/gradflow.npy: cannot create");
}

TEST(ErrorContract, AFileSizeLimitIsReportedAndLeavesNoPartialFile) {
  const std::string model = trained_checkpoint("fsize_model");
  const std::string dir = temp_dir("fsize");
  // 40 test samples × 2 float logits and the .npy header: over 400 bytes; stderr stays below 300
  const LimitedRun r = run_limited(
      {"--log-level", "warn", "eval", "--checkpoint", model, "--save-logits", dir + "/logits.npy"}, RLIMIT_FSIZE, 300);
  expect_one_error_line("ulimit -f", r.code, r.err, dir + "/logits.npy: cannot write: File too large");
  EXPECT_TRUE(fs::is_empty(dir)) << "a partial file was left";
}

TEST(ErrorContract, ReportNamesTheFileAndLineOfAValueOfTheWrongType) {
  const std::string model = trained_checkpoint("report_types");
  const std::string run = fs::path(model).parent_path().string();
  ASSERT_EQ(run_cli("report " + run).code, 0);
  const std::string metrics = read_all(run + "/metrics.jsonl");
  std::ofstream(run + "/metrics.jsonl", std::ios::app) << R"({"epoch": "two", "train_loss": 1})" << "\n";
  const CliRun bad_metrics = run_cli("report " + run);
  expect_one_error_line("metrics", bad_metrics.code, bad_metrics.err,
                        run + "/metrics.jsonl: line 2: type must be number, but is string");
  std::ofstream(run + "/metrics.jsonl") << metrics;

  json calibration = json::parse(read_all(run + "/calibration.json"));
  calibration["test_before"]["bins"] = "none";
  std::ofstream(run + "/calibration.json") << calibration.dump();
  const CliRun bad_calibration = run_cli("report " + run);
  expect_one_error_line("calibration", bad_calibration.code, bad_calibration.err, run + "/calibration.json: ");
}

TEST(ErrorContract, MessagesBlameWhatIsWrong) {
  // a resumed run given another model names the checkpoint and the first change
  const std::string model = trained_checkpoint("blame_model");
  const std::string run = fs::path(model).parent_path().string(), last = run + "/last.safetensors";
  for (const auto& [set, at] : std::vector<std::pair<std::string, std::string>>{
           {"model.layers.0.units=32", "/model/layers/0/units"}, {"model.layers.1.type=tanh", "/model/layers/1/type"}}) {
    const CliRun changed = run_cli("train --resume " + last + " --set training.epochs=2 --set " + set);
    expect_one_error_line(set, changed.code, changed.err,
                          last + ": a resumed run keeps its model, and the config changes it at " + at);
  }
  // a directory or a missing file where a file belongs: exit 2 and why
  const CliRun directory = run_cli("eval --checkpoint " + run);
  expect_one_error_line("directory", directory.code, directory.err, run + ": is a directory, not the checkpoint");
  const CliRun missing = run_cli("eval --checkpoint " + run + "/none.safetensors");
  expect_one_error_line("missing", missing.code, missing.err, "none.safetensors: cannot open the checkpoint: No such file or directory");
  const CliRun config_directory = run_cli("train --config " + run);
  expect_one_error_line("config directory", config_directory.code, config_directory.err, run + ": is a directory, not a JSON file");
}

TEST(Resume, AResumeThatFailedBeforeItsFirstCheckpointCanBeRetriedWithOtherValues) {
  // the failed resume rewrote config.json with its --set values; that is not an edit by the user
  const std::string model = trained_checkpoint("retry_model");
  const std::string last = fs::path(model).parent_path().string() + "/last.safetensors";
  const CliRun diverged = run_cli("train --resume " + last + " --set training.epochs=3 --set optimizer.lr=1e30");
  EXPECT_EQ(diverged.code, 3) << diverged.err;
  EXPECT_NE(diverged.err.find("the last good checkpoint is " + last), std::string::npos) << diverged.err;
  const CliRun retried = run_cli("train --resume " + last + " --set training.epochs=3");
  EXPECT_EQ(retried.code, 0) << retried.err;
}

TEST(Divergence, TrainingStalledAtChanceStopsWithCodeThree) {
  // every image the same, ten classes in turn: nothing to learn, the model can only guess
  const std::string dir = temp_dir("chance_data");
  for (const auto& [prefix, n] : std::vector<std::pair<std::string, uint32_t>>{{"train", 3000}, {"t10k", 100}}) {
    std::vector<uint8_t> labels;
    for (uint32_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
    write_bytes(dir + "/" + prefix + "-images-idx3-ubyte", idx_bytes({n, 8, 8}, std::vector<uint8_t>(n * 64, 90)));
    write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte", idx_bytes({n}, labels));
  }
  const std::string run = temp_dir("chance_run");
  json c = small_config(dir, 5);
  c["data"]["validation"] = 1000;
  c["model"]["layers"][2]["units"] = 10;
  std::ofstream(run + "/c.json") << c.dump();
  const CliRun r = run_cli("train --config " + run + "/c.json --out " + run + "/run");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("training stalled at chance level in epoch 2: accuracy "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("against 1/C = 10.0%"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the last good checkpoint is " + run + "/run/last.safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(run + "/run/model.safetensors"));
}

TEST(CrashConsistency, RandomKillsLeaveLoadableCheckpointsAndABitIdenticalModel) {
  const std::string data = write_separable_dataset("crash_data", 8000, 100);
  const std::string dir = temp_dir("crash");
  json c = small_config(data, 30);
  c["model"]["layers"] = {{{"type", "dense"}, {"units", 64}}, {{"type", "batch_norm"}},  {{"type", "relu"}},
                          {{"type", "dropout"}, {"p", 0.2}},  {{"type", "dense"}, {"units", 2}}};
  std::ofstream(dir + "/c.json") << c.dump();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/straight").code, 0);
  // each kill lands within a quarter of a whole run's time (loading, mid-epoch, while saving):
  // at least three kills before the run can finish
  const int run_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());

  const std::string run = dir + "/run", last = run + "/last.safetensors";
  std::mt19937 rng(2024);
  int kills = 0;
  for (int attempt = 0; attempt < 8 && !fs::exists(run + "/summary.json"); ++attempt) {
    std::vector<std::string> args = {"train", "--config", dir + "/c.json", "--out", run, "--force"};
    if (fs::exists(last)) args = {"train", "--resume", last};
    const pid_t pid = spawn(args, "/dev/null");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, std::max(10, run_ms / 4))(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    kills += WIFSIGNALED(status);
    // whatever the moment, every checkpoint present is whole
    if (fs::exists(last)) {
      EXPECT_NO_THROW(load_train_state(last)) << "after kill " << kills;
    }
    if (fs::exists(run + "/model.safetensors")) {
      EXPECT_NO_THROW(load_checkpoint(run + "/model.safetensors"));
    }
  }
  EXPECT_GE(kills, 3);
  if (!fs::exists(run + "/summary.json")) {
    const CliRun finish = run_cli(fs::exists(last) ? "train --resume " + last
                                                   : "train --config " + dir + "/c.json --out " + run + " --force");
    ASSERT_EQ(finish.code, 0) << finish.err;
  }
  const SafetensorsFile a = read_safetensors(dir + "/straight/model.safetensors"), b = read_safetensors(run + "/model.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, tensor] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_EQ(0, std::memcmp(tensor.values.data(), b.tensors.at(name).values.data(), tensor.values.size() * sizeof(float)))
        << name << " differs from the uninterrupted run";
  }
  for (const auto& entry : fs::directory_iterator(run)) {
    EXPECT_NE(entry.path().extension(), ".tmp") << "left behind: " << entry.path();
  }
}
