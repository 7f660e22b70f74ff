// gradflow sweep: train every combination of a grid of --set values as child processes, then
// tabulate them (sweep.csv, sweep.html, the terminal).
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.h"
#include "gradflow/distributed/communicator.h"
#include "gradflow/config.h"
#include "gradflow/sweep/plan.h"
#include "gradflow/sweep/runner.h"
#include "options.h"
#include "progress_bar.h"

namespace gradflow::cli {

namespace {

struct SweepArgs {
  std::string config, grid, name, data;
  std::vector<std::string> overrides;
  int jobs = 1;
  int threads = -1;
  bool force = false;
  bool json = false;
};

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

// One line per run start and end (on stdout, or stderr when stdout carries --json), and on a
// terminal a progress line below them: runs done of all, and which are training.
class SweepLog {
 public:
  SweepLog(const sweep::SweepPlan& plan, bool json) : plan_(plan), out_(json ? stderr : stdout) {
    live_ = !json && ::isatty(STDOUT_FILENO) == 1 && stderr_is_terminal();
  }

  void operator()(const sweep::RunEvent& event) {
    const std::string& name = plan_.runs[event.index].name;
    std::string line;
    switch (event.kind) {
      case sweep::RunEvent::skipped: line = "skip    " + name + " (finished earlier)"; break;
      case sweep::RunEvent::started: line = "start   " + name; ++running_; break;
      case sweep::RunEvent::resumed: line = "resume  " + name + " (from last.safetensors)"; ++running_; break;
      case sweep::RunEvent::finished: line = "done    " + name + " in " + seconds_text(event.seconds); --running_; break;
      case sweep::RunEvent::interrupted:
        line = "stopped " + name + " after " + seconds_text(event.seconds) + " (saved; resumed by the next session)";
        --running_;
        break;
      case sweep::RunEvent::failed:
        line = "FAILED  " + name + " with exit " + std::to_string(event.exit_code) + " after " +
               seconds_text(event.seconds) + ": see " + plan_.run_dir(plan_.runs[event.index]) + "/train.log";
        --running_;
        break;
    }
    if (live_) TerminalLine::instance().clear();
    // under mpirun each rank counts its own share of the runs, and says which rank it is
    const int rank = world().rank();
    std::fprintf(out_, "%s[%zu/%zu] %s\n", world().distributed() ? ("[rank " + std::to_string(rank) + "] ").c_str() : "",
                 event.done, event.total, line.c_str());
    std::fflush(out_);
    if (live_) {
      TerminalLine::instance().draw("sweep " + plan_.name + ": " + std::to_string(event.done) + " of " +
                                    std::to_string(event.total) + " done, " + std::to_string(running_) + " training");
    }
  }

  void finish() {
    if (live_) TerminalLine::instance().clear();
  }

 private:
  const sweep::SweepPlan& plan_;
  FILE* out_;
  bool live_ = false;
  int running_ = 0;
};

}  // namespace

void add_sweep_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "train every combination of a grid of config values, each run a child process, and tabulate them; "
               "under mpirun -np N, the runs are shared among N processes");
  cmd->add_option("--config", a->config, "the JSON config every run starts from")->required();
  cmd->add_option("--grid", a->grid,
                  "a JSON object mapping --set paths to lists of values: {\"optimizer.lr\": [0.05, 0.1]}; every "
                  "combination is one run")
      ->required();
  cmd->add_option("--jobs", a->jobs, "runs trained at the same time (each a process)")
      ->check(CLI::Range(1, 256))
      ->type_name("K")
      ->capture_default_str();
  cmd->add_option("--name", a->name,
                  "the sweep's name and directory, <output.dir>/NAME (default: <config name>-<grid file stem>)");
  cmd->add_option("--set", a->overrides, "override a config value in every run: key.path=value; repeatable")
      ->take_all()
      ->allow_extra_args(false);
  add_data_option(*cmd, a->data);
  add_threads_option(*cmd, a->threads)
      ->description("threads of each run, 0 for every core (default: the config's; with --jobs K > 1 and a config "
                    "taking every core, the cores divided by K)");
  cmd->add_flag("--force", a->force,
                "retrain every run from the start, replacing earlier results, even when the config or grid changed");
  cmd->add_flag("--json", a->json, "print the results table as one JSON object on stdout");
  cmd->callback([&action, a]() {
    action = [a]() {
      const sweep::SweepPlan plan = sweep::make_plan(a->config, config_overrides(a->overrides, a->data, -1), a->grid, a->name);
      sweep::SweepOptions options;
      options.executable = std::filesystem::read_symlink("/proc/self/exe").string();
      options.jobs = a->jobs;
      options.threads = sweep::child_threads(a->threads, parse_config(plan.base_config).threads, a->jobs,
                                             std::thread::hardware_concurrency(), plan.grid);
      options.restart = a->force;
      // SIGINT, SIGTERM: the runner sends SIGINT to the children, waits for them to save, and returns
      options.stop = &install_stop_handlers();
      SweepLog log(plan, a->json);
      options.on_event = [&log](const sweep::RunEvent& event) { log(event); };
      FILE* out = a->json || world().rank() != 0 ? stderr : stdout;
      if (world().rank() == 0) std::fprintf(out, "sweep %s: %zu runs, %d at a time%s, into %s/\n", plan.name.c_str(), plan.runs.size(), a->jobs,
                   options.threads >= 0 ? (", " + std::to_string(options.threads) + (options.threads == 1 ? " thread" : " threads") + " each").c_str() : "",
                   plan.dir.c_str());
      std::fflush(out);
      // under mpirun, the runs are spread over the ranks (each run is still one process); rank 0 tabulates
      Communicator& ranks = world();
      const sweep::SweepOutcome outcome =
          sweep::run_sweep(plan, options, ranks.rank(), ranks.size(), [&ranks] { ranks.barrier(); });
      log.finish();
      // A rank that exits non-zero ends the whole job, so the ranks wait for rank 0 to tabulate
      // (the sum of their failed runs is that wait).
      double failed = static_cast<double>(outcome.failed);
      if (ranks.rank() != 0) {
        ranks.sum(&failed, 1);
        return outcome.interrupted ? 130 : outcome.failed > 0 ? 1 : 0;
      } else if (a->json) {
        std::cout << sweep::rows_json(plan, outcome.rows).dump() << std::endl;
      } else {
        std::printf("\n%s\nsweep.csv, sweep.html in %s/\n", sweep::rows_text(outcome.rows).c_str(), plan.dir.c_str());
      }
      std::fflush(stdout);
      ranks.sum(&failed, 1);
      if (outcome.interrupted) {
        std::fprintf(stderr, "gradflow: sweep interrupted; run the same command again to resume it\n");
        return 130;
      }
      if (failed > 0) {
        std::fprintf(stderr, "gradflow: error: %zu of %zu runs failed (each run's train.log says why)\n",
                     static_cast<size_t>(failed), plan.runs.size());
        return 1;
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
