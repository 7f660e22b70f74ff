// Google Benchmark micro-benchmarks of the hot kernels at the shapes that matter for MNIST MLPs.
//   build/bin/micro_layers [--benchmark_filter=Dense]
// Counters: GFLOP/s of the products each kernel performs.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "gradflow/layers/dense.h"
#include "gradflow/layers/dropout.h"
#include "gradflow/layers/gaussian_noise.h"
#include "gradflow/kernels/gemm.h"
#include "gradflow/layers/relu.h"
#include "gradflow/softmax_cross_entropy.h"

using namespace gradflow;

namespace {

// args: batch, in, out
void BM_DenseForward(benchmark::State& state) {
  const int64_t b = state.range(0), in = state.range(1), out = state.range(2);
  Dense<float> dense(in, out);
  std::mt19937_64 rng(1);
  dense.initialize(rng);
  Matrix x = Matrix::Random(b, in), y;
  for (auto _ : state) {
    dense.forward(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(b * in * out) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_DenseBackward(benchmark::State& state) {
  const int64_t b = state.range(0), in = state.range(1), out = state.range(2);
  Dense<float> dense(in, out);
  std::mt19937_64 rng(1);
  dense.initialize(rng);
  Matrix x = Matrix::Random(b, in), y, dy = Matrix::Random(b, out), dx;
  dense.forward(x, y);
  for (auto _ : state) {
    dense.backward(x, y, dy, &dx);  // dW = dy^T x, db, dx = dy W
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * static_cast<double>(b * in * out) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_ReluForwardBackward(benchmark::State& state) {
  const int64_t b = state.range(0), n = state.range(1);
  ReLU<float> relu(n);
  Matrix x = Matrix::Random(b, n), y, dx;
  for (auto _ : state) {
    relu.forward(x, y);
    relu.backward(x, y, y, &dx);  // dy = y: any gradient of the right shape
    benchmark::DoNotOptimize(dx.data());
  }
}

void BM_SoftmaxCrossEntropy(benchmark::State& state) {
  const int64_t b = state.range(0), classes = state.range(1);
  SoftmaxCrossEntropy<float> head;
  Matrix z = Matrix::Random(b, classes) * 5.0f, dz;
  Labels labels(b);
  for (int64_t i = 0; i < b; ++i) labels[i] = static_cast<int>(i % classes);
  for (auto _ : state) {
    benchmark::DoNotOptimize(head.forward(z, labels));
    head.backward(dz);
    benchmark::DoNotOptimize(dz.data());
  }
}

double product_flop(const benchmark::State& state) {
  return 2.0 * static_cast<double>(state.range(0) * state.range(1) * state.range(2));
}

// The plain product gradflow bench measures the step against, x (B, in) · W^T (in, out), through
// gradflow's gemm (args: batch, in, out, threads) ...
// args: batch, units. The random layers' training forward: drawing the mask or the noise
// dominates. Counter: units per second.
template <typename RandomLayer>
void BM_RandomForward(benchmark::State& state, double parameter) {
  const int64_t b = state.range(0), units = state.range(1);
  RandomLayer layer(units, parameter);
  std::mt19937_64 rng(1);
  layer.initialize(rng);
  Matrix x = Matrix::Random(b, units), y;
  for (auto _ : state) {
    layer.forward(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["units/s"] =
      benchmark::Counter(static_cast<double>(b * units) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
void BM_DropoutForward(benchmark::State& state) { BM_RandomForward<Dropout<float>>(state, 0.3); }
void BM_GaussianNoiseForward(benchmark::State& state) { BM_RandomForward<GaussianNoise<float>>(state, 0.3); }

void BM_GemmProduct(benchmark::State& state) {
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(state.range(3)));
  Matrix x = Matrix::Random(state.range(0), state.range(1)), w = Matrix::Random(state.range(2), state.range(1)), y;
  for (auto _ : state) {
    gemm<float>(false, true, x, w, y);
    benchmark::DoNotOptimize(y.data());
  }
  omp_set_num_threads(threads_before);
  state.counters["GFLOP/s"] = benchmark::Counter(product_flop(state) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// ... and through Eigen's own product, on one thread (gradflow builds Eigen without its threading)
void BM_EigenProduct(benchmark::State& state) {
  Matrix x = Matrix::Random(state.range(0), state.range(1)), w = Matrix::Random(state.range(2), state.range(1)), y;
  for (auto _ : state) {
    y.noalias() = x * w.transpose();
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(product_flop(state) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_GemmProduct)->Args({128, 784, 512, 1})->Args({128, 784, 512, 2})->Args({64, 784, 128, 1})->Args({64, 784, 128, 2});
BENCHMARK(BM_EigenProduct)->Args({128, 784, 512})->Args({64, 784, 128});
BENCHMARK(BM_DenseForward)->Args({128, 784, 512})->Args({128, 512, 256})->Args({128, 256, 10})->Args({64, 784, 128})->Args({64, 128, 10});
BENCHMARK(BM_DenseBackward)->Args({128, 784, 512})->Args({128, 512, 256})->Args({128, 256, 10})->Args({64, 784, 128})->Args({64, 128, 10});
BENCHMARK(BM_ReluForwardBackward)->Args({128, 512})->Args({64, 128});
BENCHMARK(BM_SoftmaxCrossEntropy)->Args({128, 10})->Args({64, 10});
BENCHMARK(BM_DropoutForward)->Args({128, 1024});
BENCHMARK(BM_GaussianNoiseForward)->Args({128, 1024})->Args({100, 1000});

BENCHMARK_MAIN();
