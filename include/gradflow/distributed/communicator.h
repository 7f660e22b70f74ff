#pragma once
// The processes that train one model together (data-parallel ranks), and what they do as one:
// element-wise sums and maxima of vectors, in place, across every rank, and rank 0's text sent
// to all. Every rank calls each of these at the same point of the program, like MPI's
// collectives. On one process every call leaves the data as it is, so training has one path.
#include <cstdint>
#include <string>

namespace gradflow {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  bool distributed() const { return size() > 1; }
  virtual int local_size() const { return 1; }  // the ranks on this machine, this one included
  // what the ranks run on, for the log: "one process", "MPI: 2 ranks (Open MPI v4.1.4)"
  virtual std::string description() const { return "one process"; }

  virtual void sum(float* /*values*/, int64_t /*n*/) {}
  virtual void sum(double* /*values*/, int64_t /*n*/) {}
  virtual void max(double* /*values*/, int64_t /*n*/) {}
  virtual void broadcast(std::string& /*text*/) {}  // rank 0's text, on every rank
  virtual void barrier() {}

  // true on every rank when `flag` is true on any
  bool any(bool flag) {
    double v = flag ? 1.0 : 0.0;
    max(&v, 1);
    return v > 0.0;
  }
};

// This process alone.
Communicator& single_process();

// Every rank of the job: MPI_COMM_WORLD when gradflow was built with MPI and this process was
// started by a launcher (mpirun, srun), otherwise this process alone.
Communicator& world();

// Whether this build can train across processes (built with MPI).
bool built_with_mpi();

// Starts MPI when a launcher started this process (call once, first thing in main, before any
// thread); `finish` ends it. A job that ends well (exit 0) finalizes MPI; any other exit code
// leaves without it: the launcher then ends the other ranks rather than letting them wait for
// this one forever, and after Ctrl-C (130, every rank saved or done) nobody waits for mpirun.
class DistributedSession {
 public:
  DistributedSession(int& argc, char**& argv);
  ~DistributedSession();
  DistributedSession(const DistributedSession&) = delete;
  DistributedSession& operator=(const DistributedSession&) = delete;
  // Returns `exit_code`, or does not return (exits without finalizing) on a failure of a job.
  int finish(int exit_code);

 private:
  bool finished_ = false;
};

// Rows [begin, end) of `total` that rank `rank` of `ranks` takes: contiguous, in rank order,
// sizes differing by at most one.
struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
inline RowRange rank_rows(int64_t total, int rank, int ranks) {
  return {total * rank / ranks, total * (rank + 1) / ranks};
}

}  // namespace gradflow
