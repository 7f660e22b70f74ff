// `mpirun -np 2 gradflow train` as a user runs it: Ctrl-C saves and resumes bit-identically
// (with the same number of ranks) or continues (with another), a rank that dies ends the job
// within seconds with the last checkpoint intact, divergence and bad batch sizes stop every rank
// with the right code, and only rank 0 reports.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "gradflow/checkpoint.h"
#include "gradflow/train_state.h"
#include "test_cli.h"
#include "test_checkpoints.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Open MPI refuses root unless told (CI runs as root), and 2 ranks may share fewer cores;
// sanitizer builds leave leak checks to the one-process tests (tests/CMakeLists.txt says why)
#ifndef MPI_RANK_ENVIRONMENT
#define MPI_RANK_ENVIRONMENT ""
#endif
const std::string kMpirun = "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                            std::string(MPI_RANK_ENVIRONMENT) + " " + std::string(MPIEXEC) + " --oversubscribe -np 2";

json config_for(const std::string& data, int epochs) {
  return json{{"name", "mpi"},
              {"seed", 9},
              {"threads", 1},
              {"data", {{"dir", data}, {"validation", 100}}},
              {"model",
               {{"input", 64},
                {"layers",
                 {{{"type", "dense"}, {"units", 16}}, {{"type", "batch_norm"}}, {{"type", "relu"}},
                  {{"type", "dropout"}, {"p", 0.2}}, {{"type", "dense"}, {"units", 2}}}}}},
              {"optimizer", {{"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}}},
              {"schedule", {{"type", "cosine"}}},
              {"training", {{"epochs", epochs}, {"batch_size", 32}, {"checkpoint_every", 0}}},
              {"calibration", {{"method", "none"}}}};
}

std::string write_config(const std::string& dir, const json& c) {
  std::ofstream(dir + "/c.json") << c.dump();
  return dir + "/c.json";
}

// `mpirun -np 2 gradflow ARGS` in the background, stderr to `err`
pid_t start_mpirun(const std::string& args, const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    // mpirun leaves SIGINT alone when it starts ignored (as in a background job): it must not be
    signal(SIGINT, SIG_DFL);
    const std::string command = "exec " + kMpirun + " " + GRADFLOW_BINARY + " " + args + " 2>" + err + " >/dev/null";
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool wait_for_text(const std::string& file, const std::string& text, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (read_all(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// The process ids of the gradflow ranks whose command line holds `marker`, by rank.
std::map<int, pid_t> ranks_running(const std::string& marker) {
  std::map<int, pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_all(entry.path() / "cmdline"), environ = read_all(entry.path() / "environ");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.rfind(GRADFLOW_BINARY, 0) != 0 || cmdline.find(marker) == std::string::npos) continue;
    const size_t at = environ.find("OMPI_COMM_WORLD_RANK=");
    if (at != std::string::npos) found[std::stoi(environ.substr(at + 21))] = std::stoi(name);
  }
  return found;
}

// `mpirun -np 2 gradflow sweep` of a 1-epoch config over `grid` (JSON), into DIR/runs/s/.
CliRun mpi_sweep(const std::string& name, const std::string& grid, std::string& dir) {
  const std::string data = write_separable_dataset(name + "_data", 500, 60);
  dir = temp_dir(name);
  json c = config_for(data, 1);
  c["output"] = {{"dir", dir + "/runs"}};
  const std::string config = write_config(dir, c);
  std::ofstream(dir + "/grid.json") << grid;
  return run_cli("sweep --config " + config + " --grid " + dir + "/grid.json --name s", kMpirun);
}

}  // namespace

TEST(MpiTrain, CtrlCSavesResumesBitIdenticalOnTheSameRanksAndContinuesOnOne) {
  const std::string data = write_separable_dataset("mpi_signal_data", 6000, 100);
  const std::string dir = temp_dir("mpi_signal");
  // mpirun takes ~0.5 s to pass the signal on: 60 epochs of ~35 ms leave room for it
  json c = config_for(data, 60);
  c["training"]["batch_size"] = 8;
  c["model"]["layers"][0]["units"] = 128;
  const std::string config = write_config(dir, c);
  const pid_t mpirun = start_mpirun("train --config " + config + " --out " + dir + "/run", dir + "/err");
  ASSERT_TRUE(wait_for_text(dir + "/err", "epoch 2/60", 60)) << read_all(dir + "/err");
  kill(mpirun, SIGINT);  // what Ctrl-C sends mpirun; it passes SIGTERM on to the ranks
  int status = 0;
  waitpid(mpirun, &status, 0);
  const std::string err = read_all(dir + "/err");
  // a command that runs as printed: mpirun (as root here, as Open MPI wants it) and this binary's path
  ASSERT_NE(err.find("resume with: mpirun " + std::string(geteuid() == 0 ? "--allow-run-as-root " : "") + "-np 2 " +
                     GRADFLOW_BINARY + " train --resume " + dir + "/run/last.safetensors"),
            std::string::npos)
      << err;
  ASSERT_TRUE(fs::exists(dir + "/run/last.safetensors")) << err;
  EXPECT_FALSE(fs::exists(dir + "/run/model.safetensors"));
  const TrainState state = load_train_state(dir + "/run/last.safetensors");
  EXPECT_GE(state.position.epoch, 2);
  EXPECT_LT(state.position.epoch, 60);

  // the same interrupted run resumed by one process continues the same global batches in the
  // same order: it ends where 2 ranks resuming it end, but for float summation order (the rest
  // of the epoch: at most 737 steps, to keep rounding differences from growing over thousands)
  const std::string epochs = "--set training.epochs=" + std::to_string(state.position.epoch);
  const std::string alone_dir = temp_dir("mpi_signal_alone"), ranks_dir = temp_dir("mpi_signal_ranks");
  fs::copy(dir + "/run", alone_dir + "/run");
  fs::copy(dir + "/run", ranks_dir + "/run");

  const CliRun resumed = run_cli("train --resume " + dir + "/run/last.safetensors", kMpirun);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const CliRun straight = run_cli("train --config " + config + " --out " + dir + "/straight", kMpirun);
  ASSERT_EQ(straight.code, 0) << straight.err;
  expect_same_tensors(dir + "/straight/model.safetensors", dir + "/run/model.safetensors");

  const CliRun alone = run_cli("train --resume " + alone_dir + "/run/last.safetensors " + epochs);
  ASSERT_EQ(alone.code, 0) << alone.err;
  EXPECT_NE(alone.err.find("resuming at epoch " + std::to_string(state.position.epoch)), std::string::npos) << alone.err;
  const CliRun two = run_cli("train --resume " + ranks_dir + "/run/last.safetensors " + epochs, kMpirun);
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_LT(largest_difference(ranks_dir + "/run/model.safetensors", alone_dir + "/run/model.safetensors"), 1e-4);
}

TEST(MpiTrain, ARankThatDiesEndsTheJobWithinSecondsAndTheCheckpointSurvives) {
  const std::string data = write_separable_dataset("mpi_kill_data", 6000, 100);
  const std::string dir = temp_dir("mpi_kill");
  json c = config_for(data, 200);
  c["training"]["checkpoint_every"] = 1;
  const std::string config = write_config(dir, c);
  const pid_t mpirun = start_mpirun("train --config " + config + " --out " + dir + "/run", dir + "/err");
  ASSERT_TRUE(wait_for_text(dir + "/err", "epoch 3/200", 60)) << read_all(dir + "/err");
  const auto ranks = ranks_running(dir + "/run");
  ASSERT_EQ(ranks.size(), 2u);
  const auto killed = Clock::now();
  kill(ranks.at(1), SIGKILL);
  int status = 0;
  waitpid(mpirun, &status, 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  EXPECT_LT(seconds, 10.0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_TRUE(ranks_running(dir + "/run").empty()) << "a rank is left running";
  // the last good checkpoint loads and resumes
  const TrainState state = load_train_state(dir + "/run/last.safetensors");
  EXPECT_GE(state.position.epoch, 3);
  const CliRun resumed = run_cli("train --resume " + dir + "/run/last.safetensors --set training.epochs=" +
                                     std::to_string(state.position.epoch),
                                 kMpirun);
  EXPECT_EQ(resumed.code, 0) << resumed.err;
}

TEST(MpiTrain, DivergenceStopsEveryRankWithCodeThree) {
  const std::string data = write_separable_dataset("mpi_diverge_data", 500, 60);
  const std::string dir = temp_dir("mpi_diverge");
  json c = config_for(data, 2);
  c["optimizer"]["lr"] = 1e30;
  const CliRun r = run_cli("train --config " + write_config(dir, c) + " --out " + dir + "/run", kMpirun);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("\ngradflow: error: training diverged at epoch 1, step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[rank 1] gradflow: error: training diverged at epoch 1, step"), std::string::npos) << r.err;
}

TEST(MpiTrain, AGlobalBatchThatDoesNotDivideIsRefused) {
  const std::string data = write_separable_dataset("mpi_batch_data", 500, 60);
  const std::string dir = temp_dir("mpi_batch");
  const std::string config = write_config(dir, config_for(data, 2));
  const CliRun r = run_cli("train --config " + config + " --out " + dir + "/run --set training.batch_size=33", kMpirun);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("gradflow: error: /training/batch_size: the global batch of 33 does not divide among 2 ranks"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir + "/run/config.json"));
}

TEST(MpiTrain, RankZeroAloneReportsAndWritesTheSameAccuracyAsOneProcess) {
  const std::string data = write_separable_dataset("mpi_report_data", 2000, 300);
  const std::string dir = temp_dir("mpi_report");
  const std::string config = write_config(dir, config_for(data, 3));
  // check_replicas on: identical ranks pass it at every step
  const CliRun together =
      run_cli("train --config " + config + " --out " + dir + "/together --json --set training.check_replicas=true", kMpirun);
  ASSERT_EQ(together.code, 0) << together.err;
  const CliRun alone = run_cli("train --config " + config + " --out " + dir + "/alone --json");
  ASSERT_EQ(alone.code, 0) << alone.err;
  EXPECT_EQ(lines(together.out), 1u) << together.out;  // one summary, from rank 0
  EXPECT_EQ(together.err.find("[rank 1]"), std::string::npos) << together.err;  // nothing but warnings and errors
  EXPECT_NE(together.err.find("data-parallel on MPI: 2 ranks"), std::string::npos) << together.err;
  const json a = json::parse(together.out), b = json::parse(alone.out);
  EXPECT_EQ(a["ranks"], 2);
  EXPECT_EQ(b["ranks"], 1);
  EXPECT_DOUBLE_EQ(a["test_accuracy"].get<double>(), b["test_accuracy"].get<double>());
  EXPECT_LT(largest_difference(dir + "/together/model.safetensors", dir + "/alone/model.safetensors"), 1e-4);
}

TEST(MpiSweep, RanksShareTheRunsAndRankZeroTabulatesThem) {
  std::string dir;
  const CliRun r = mpi_sweep("mpi_sweep", R"({"optimizer.lr": [0.01, 0.02, 0.05]})", dir);
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  for (const char* run : {"lr=0.01", "lr=0.02", "lr=0.05"}) {
    EXPECT_TRUE(fs::exists(dir + "/runs/s/" + run + "/summary.json")) << run;
  }
  const std::string csv = read_all(dir + "/runs/s/sweep.csv");
  EXPECT_EQ(lines(csv), 4u) << csv;  // the header and the three runs
  size_t finished = 0;
  for (size_t at = csv.find(",finished,"); at != std::string::npos; at = csv.find(",finished,", at + 1)) ++finished;
  EXPECT_EQ(finished, 3u) << csv;
  EXPECT_EQ(r.out.find("sweep s: 3 runs"), r.out.rfind("sweep s: 3 runs"));  // one header, from rank 0
}

TEST(MpiCommands, OnlyTrainAndSweepRunUnderMpirun) {
  const CliRun r = run_cli("layers", kMpirun);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("gradflow: error: gradflow layers runs in one process: run it without mpirun"), std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(MpiSweep, ARunThatFailsOnAnotherRankIsTabulatedAndFailsTheSweep) {
  std::string dir;
  // run 1 (rank 1's) diverges
  const CliRun r = mpi_sweep("mpi_sweep_fail", R"({"optimizer.lr": [0.01, 1e30, 0.02]})", dir);
  EXPECT_NE(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("gradflow: error: 1 of 3 runs failed"), std::string::npos) << r.err;  // rank 0 counts every rank's
  const std::string csv = read_all(dir + "/runs/s/sweep.csv");
  EXPECT_NE(csv.find("failed"), std::string::npos) << csv;
  EXPECT_EQ(lines(csv), 4u) << csv;
}
