// A training step, on 1 thread or 2, allocates nothing once its workspaces exist: this executable
// counts every operator new and every malloc (all libraries' included, OpenBLAS and OpenMP too),
// and runs steps at a fixed batch size after a first one. (A batch of another size — the last,
// smaller batch of an epoch — resizes the workspaces once.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "gradflow/data/batcher.h"
#include "gradflow/kernels/bfloat16.h"
#include "gradflow/kernels/onednn.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/train.h"
#include "gradflow/train/mixup.h"

// operator new below takes its memory from malloc, so operator delete frees it: GCC cannot see
// the pair once a call is inlined into code that uses ::operator new, and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);

namespace {
std::atomic<long> allocations{0};
}  // namespace

extern "C" void* malloc(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
extern "C" void* calloc(size_t n, size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
extern "C" void* realloc(void* p, size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void* operator new(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = __libc_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace gradflow;

namespace {
// mixup_alpha > 0: every batch mixed as training.mixup does (train/mixup.h)
long allocations_in_steps(const nlohmann::json& layers, int64_t batch, int threads,
                          const nlohmann::json& optimizer = {{"type", "sgd"}, {"momentum", 0.9}, {"weight_decay", 1e-4},
                                                             {"nesterov", true}},
                          double mixup_alpha = 0) {
  set_threads(threads);
  Sequential<float> model(resolve_model_spec({{"input", 784}, {"layers", layers}}));
  std::mt19937_64 rng(1);
  model.initialize(rng);
  auto optimizer_owner = make_optimizer(model.parameters(), OptimizerRegistry::instance().resolve(optimizer, "/optimizer"));
  Optimizer& sgd = *optimizer_owner;
  Dataset data;
  data.images = Matrix::Random(batch * 8, 784);
  data.labels = Labels::Zero(batch * 8);
  Batcher batcher(data, batch, rng);
  batcher.shuffle();
  Matrix x;
  Labels y;
  Mixup mixup({mixup_alpha}, 1);
  auto step = [&](int64_t b) {
    batcher.gather(b, x, y);
    if (mixup_alpha > 0) mixup.mix(batcher, b, 0, batch, x);
    const LabelMix mix = mixup_alpha > 0 ? mixup.labels() : LabelMix{};
    ASSERT_TRUE(train_step(model, sgd, x, y, 0.01, nullptr, {}, nullptr, mix).finite());
  };
  step(0);  // the first step sizes every workspace
  step(1);
  const long before = allocations.load();
  for (int64_t b = 2; b < 8; ++b) step(b);
  return allocations.load() - before;
}
}  // namespace

TEST(Allocations, NoneInATrainingStepAfterTheFirst) {
  const nlohmann::json big = {{{"type", "dense"}, {"units", 512}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 256}},
                              {{"type", "relu"}}, {{"type", "dense"}, {"units", 10}}};
  const nlohmann::json small = {{{"type", "dense"}, {"units", 128}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 10}}};
  EXPECT_EQ(allocations_in_steps(big, 128, 1), 0) << "784-512-256-10";
  EXPECT_EQ(allocations_in_steps(small, 64, 1), 0) << "784-128-10";
  EXPECT_EQ(allocations_in_steps(big, 128, 2), 0) << "784-512-256-10, 2 threads";
  EXPECT_EQ(allocations_in_steps(small, 64, 2), 0) << "784-128-10, 2 threads";
  EXPECT_EQ(allocations_in_steps(big, 128, 2, {{"type", "adam"}, {"amsgrad", true}}), 0) << "784-512-256-10, adam";
  EXPECT_EQ(allocations_in_steps(small, 64, 1, {{"type", "adamw"}}), 0) << "784-128-10, adamw";
  EXPECT_EQ(allocations_in_steps(big, 128, 2, {{"type", "adam"}}, 0.2), 0) << "784-512-256-10, mixup";
  EXPECT_EQ(allocations_in_steps(small, 64, 1, {{"type", "sgd"}}, 1.0), 0) << "784-128-10, mixup";
  set_threads(1);
}

// In bf16 a step's products run through oneDNN, whose execute call builds its argument map on
// the heap (in oneDNN 2.6: 6 allocations a call, 7 with a bias argument, whatever the shape). gradflow's own code still
// allocates nothing: the step allocates exactly what its 8 products' execute calls do.
TEST(Allocations, Bf16StepAllocatesOnlyInsideOneDnnsExecute) {
  if (!bf16_products_built()) GTEST_SKIP() << "built without oneDNN";
  set_threads(2);
  const MatrixBf16 a = MatrixBf16::Zero(16, 24), b = MatrixBf16::Zero(24, 8);
  Matrix c(16, 8);
  const RowVector bias = RowVector::Zero(8);
  bf16_gemm(false, false, a, b, c);  // creates the primitives
  bf16_gemm(false, false, a, b, c, false, bias.data());
  long before_call = allocations.load();
  bf16_gemm(false, false, a, b, c);
  const long per_execute = allocations.load() - before_call;
  before_call = allocations.load();
  bf16_gemm(false, false, a, b, c, false, bias.data());
  const long per_execute_with_bias = allocations.load() - before_call;  // one argument more
  EXPECT_LE(per_execute_with_bias, 16) << "oneDNN's execute allocates more than its argument map";

  use_precision(Precision::BF16);
  const nlohmann::json big = {{{"type", "dense"}, {"units", 512}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 256}},
                              {{"type", "relu"}}, {{"type", "dense"}, {"units", 10}}};
  // 6 steps × (3 forward products with their bias + 3 dW + 2 dx)
  const long expected = 6 * (3 * per_execute_with_bias + 5 * per_execute);
  EXPECT_EQ(allocations_in_steps(big, 128, 2), expected) << "784-512-256-10, bf16";
  EXPECT_EQ(allocations_in_steps(big, 128, 1), expected) << "784-512-256-10, bf16, 1 thread";
  use_precision(Precision::FP32);
  set_threads(1);
}

TEST(Allocations, TheCounterSeesAllocations) {
  const long before = allocations.load();
  std::vector<float>* v = new std::vector<float>(100);
  Matrix m(10, 10);
  EXPECT_GE(allocations.load() - before, 3);
  delete v;
}
