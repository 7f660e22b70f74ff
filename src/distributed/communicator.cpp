#include "gradflow/distributed/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#ifdef GRADFLOW_HAVE_MPI
#include <mpi.h>
#endif

namespace gradflow {

Communicator& single_process() {
  static Communicator alone;
  return alone;
}

#ifdef GRADFLOW_HAVE_MPI

namespace {

// MPI's counts are int: long vectors go in pieces
template <typename T, typename F>
void in_pieces(T* values, int64_t n, F&& f) {
  constexpr int64_t kPiece = std::numeric_limits<int>::max() / 2;
  for (int64_t begin = 0; begin < n; begin += kPiece) f(values + begin, static_cast<int>(std::min(kPiece, n - begin)));
}

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, static_cast<size_t>(length)));
}

class MpiWorld : public Communicator {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm machine;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine);
    MPI_Comm_size(machine, &local_size_);
    MPI_Comm_free(&machine);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  std::string description() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string library(version, static_cast<size_t>(length));
    library = library.substr(0, library.find_first_of(",\n"));
    return "MPI: " + std::to_string(size_) + (size_ == 1 ? " rank (" : " ranks (") + library + ")";
  }
  void sum(float* values, int64_t n) override {
    in_pieces(values, n, [](float* v, int k) {
      check(MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
  }
  void sum(double* values, int64_t n) override {
    in_pieces(values, n, [](double* v, int k) {
      check(MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
  }
  void max(double* values, int64_t n) override {
    in_pieces(values, n, [](double* v, int k) {
      check(MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    });
  }
  void broadcast(std::string& text) override {
    int64_t length = static_cast<int64_t>(text.size());
    check(MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
    text.resize(static_cast<size_t>(length));
    in_pieces(text.data(), length, [](char* v, int k) { check(MPI_Bcast(v, k, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast"); });
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1;
};

bool mpi_started = false;

// set by mpirun (Open MPI), by a PMIx launcher (srun --mpi=pmix, prterun) or a PMI-1/2 one
bool started_by_launcher() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

}  // namespace

bool built_with_mpi() { return true; }

Communicator& world() {
  if (!mpi_started) return single_process();
  static MpiWorld mpi;
  return mpi;
}

DistributedSession::DistributedSession(int& argc, char**& argv) {
  if (!started_by_launcher()) return;
  int provided = 0;
  // OpenMP threads compute; only the main thread talks to the other ranks
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "gradflow: error: MPI_Init_thread failed: the launcher started this process but MPI did not start\n");
    std::exit(1);
  }
  mpi_started = true;
}

DistributedSession::~DistributedSession() { finish(0); }

int DistributedSession::finish(int exit_code) {
  if (!mpi_started || finished_) return exit_code;
  finished_ = true;
  if (exit_code == 0) {
    MPI_Finalize();
    return exit_code;
  }
  // The other ranks may be waiting in a collective this rank will never join, or (after Ctrl-C,
  // 130) mpirun is already tearing the job down and MPI_Finalize would wait for it until its
  // SIGKILL: leave without it, with this exit code.
  std::fflush(nullptr);
  std::_Exit(exit_code);
}

#else

bool built_with_mpi() { return false; }
Communicator& world() { return single_process(); }
DistributedSession::DistributedSession(int& /*argc*/, char**& /*argv*/) {}
DistributedSession::~DistributedSession() = default;
int DistributedSession::finish(int exit_code) { return exit_code; }

#endif

}  // namespace gradflow
