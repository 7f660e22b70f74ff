#pragma once
// Element-wise work over the rows of a batch, split into one contiguous block of rows per
// thread when there is enough of it to pay for waking a second thread. `f(begin, end)` handles
// rows [begin, end) and must not throw. Inside another parallel region it runs on one thread.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace gradflow {

// rows · cols at and above which the rows are split across threads
inline constexpr int64_t kParallelMinimumElements = int64_t(1) << 15;

namespace detail {
inline std::atomic<int> pinned_partition{0};  // set_running_threads: the partition products keep
}  // namespace detail

// Sets the number of threads that products and parallel loops are split over (0: every core).
// gradflow splits its own products (kernels); Eigen never threads.
inline void set_threads(int threads) {
  detail::pinned_partition = 0;
  omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
}

// Runs on `running` threads from now on, while every float product keeps the blocks it has on
// `partition` threads (kernels/gemm.h): fewer threads then compute the same blocks one after
// another, so the result is bit for bit the same. train/thread_tuner.h drops to one thread this
// way while other work is using the cores.
inline void set_running_threads(int running, int partition) {
  detail::pinned_partition = partition;
  omp_set_num_threads(running);
}

// The threads a product's blocks are laid out for: the pinned partition, or the thread count.
inline int partition_threads() {
  const int pinned = detail::pinned_partition.load();
  return pinned > 0 ? pinned : omp_get_max_threads();
}

template <typename F>
void for_row_blocks(int64_t rows, int64_t cols, F&& f) {
  const int64_t threads = rows * cols >= kParallelMinimumElements && !omp_in_parallel()
                              ? std::min<int64_t>(omp_get_max_threads(), rows)
                              : 1;
  if (threads <= 1) {
    f(int64_t(0), rows);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t t = omp_get_thread_num();
    f(rows * t / threads, rows * (t + 1) / threads);
  }
}

}  // namespace gradflow
