#pragma once
// Running a sweep: each run is a child process of the gradflow binary (`train --config ... --set
// ... --out RUN_DIR`, or `train --resume RUN_DIR/last.safetensors`), `jobs` at a time, its
// stdout and stderr appended to RUN_DIR/train.log. A child is always a plain single process:
// the variables MPI launchers set (OMPI_*, PMIX_*, PMI_*) are removed from its environment.
//
// Spread over ranks: this process executes the runs whose index % ranks == rank; `barrier`
// waits for every rank (a no-op for one). Rank 0 alone writes sweep.json and the tables. The
// run directories are the only state, so the ranks share nothing else.
#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "gradflow/sweep/plan.h"
#include "gradflow/sweep/run_status.h"
#include "gradflow/sweep/table.h"

namespace gradflow::sweep {

// What happened to one run, as it happens.
struct RunEvent {
  enum Kind { skipped, started, resumed, finished, failed, interrupted } kind;
  size_t index = 0;           // in plan.runs
  int exit_code = 0;          // the child's, or 128 + the signal that ended it
  double seconds = 0;         // the child's wall time (finished, failed, interrupted)
  size_t done = 0, total = 0; // this rank's runs over (skipped included) and its runs in all
};

struct SweepOptions {
  std::string executable;  // the gradflow binary the runs execute
  int jobs = 1;            // children at a time
  int threads = -1;        // --threads N given to every child; -1: none (the config's)
  bool restart = false;    // retrain every run from the start (replacing earlier results)
  const std::atomic<bool>* stop = nullptr;  // once set: the children are sent SIGINT, no run starts
  std::function<void(const RunEvent&)> on_event;  // called from this thread
};

struct SweepOutcome {
  bool interrupted = false;  // `stop` was set before every run of this rank was over
  size_t failed = 0;         // runs of this rank that failed
  std::vector<SweepRow> rows;  // rank 0: every run, best first; other ranks: empty
};

// The threads each child trains with: `option` when given (>= 0); with several jobs and a
// config that takes every core (threads 0), the cores shared out, at least 1 each; else -1 (the
// config's). -1 as well when the grid sets "threads" itself.
int child_threads(int option, int configured, int jobs, unsigned cores, const Grid& grid);

// `environment` without the variables MPI launchers set: every NAME=VALUE whose NAME starts
// with OMPI_, PMIX_ or PMI_.
std::vector<std::string> scrub_mpi_environment(const std::vector<std::string>& environment);

// The command line of the child that trains `run` now: a fresh start, or a resume when it was
// interrupted (`resume`). A fresh start into a directory that exists replaces what it holds (--force).
std::vector<std::string> child_command(const SweepPlan& plan, size_t index, const SweepOptions& options, bool resume);

// Checks the plan against an earlier sweep.json (all ranks; skipped with options.restart), then
// rank 0 writes sweep.json; runs this rank's runs; waits for every rank; rank 0 writes
// sweep.csv and sweep.html and returns the rows.
SweepOutcome run_sweep(const SweepPlan& plan, const SweepOptions& options, int rank, int ranks,
                       const std::function<void()>& barrier);

}  // namespace gradflow::sweep
