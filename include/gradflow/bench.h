#pragma once
// Timing the training step against what this machine's matrix multiply can do.
//   model FLOPs per step: forward 2·B·in·out per dense layer, backward twice that
//   executed FLOPs: the same, less the first layer's input gradient, which nothing needs
// The reference, in the same run and with the same thread count, one round after every epoch:
//   fp32: a plain matrix product of the largest dense layer's shape, (B, in) x (in, out), through
//         the same product routine the layers use (kernels/gemm.h);
//   bf16: the step's own products at the model's shapes (forward, dW, dx) with the step's bf16
//         conversions, through oneDNN, with nothing else of the step around them.
#include <nlohmann/json.hpp>

#include "gradflow/config.h"
#include "gradflow/data/dataset.h"

namespace gradflow {

// One stage of the training step, timed apart: its median over the timed steps.
struct StageTime {
  std::string stage;          // "gather batch", "0 dense forward", "head backward", "sgd update", ...
  double microseconds = 0;
  double gflops = 0;          // dense layers: executed FLOPs / time; 0 for the other stages
};

struct BenchResult {
  int threads = 1;
  std::string backend;                // the product backend that ran (fp32)
  std::string precision = "fp32";     // the dense layers' products: fp32 or bf16
  std::string products_run_on;        // "AMX", "AVX512-BF16", "no bf16 units (emulated ...)", "AVX-512 (float32)"
  std::string bf16_implementation;    // bf16: oneDNN and its kernel
  std::string matmul_reference;       // what matmul_gflops measured
  int64_t batch = 0, train_samples = 0, epochs = 0;
  std::vector<double> epoch_seconds;  // every epoch, the first one included
  double seconds_per_epoch = 0;       // median of the epochs after the first (all if only one)
  double samples_per_second = 0;
  double model_gflop_per_step = 0, executed_gflop_per_step = 0;
  double step_gflops = 0;             // executed FLOPs / step time
  double matmul_gflops = 0;           // the plain products (see above), a round after every epoch,
                                      // median of the rounds
  double eval_seconds = 0;            // forward over the test split, batches of eval_batch_size
  int64_t eval_samples = 0;
  std::vector<StageTime> stages;      // with stage_steps > 0: the step's stages, in the order they run
  int64_t stage_steps = 0;            // steps the stages were timed over
  double step_to_matmul() const;      // step_gflops / matmul_gflops (0 without a dense layer)
  double stages_microseconds() const; // the sum of the stages' medians
  nlohmann::json to_json() const;
};

// Trains `epochs` epochs of `config` on `train` (no files written) and times it; evaluates `test`.
// With stage_steps > 0, then times that many more steps (at most an epoch's full batches) stage by
// stage: gathering the batch, every layer's forward, the head's forward and backward, every
// layer's backward, and the SGD update.
BenchResult benchmark_training(const Config& config, const Dataset& train, const Dataset& test, int64_t epochs,
                               int64_t stage_steps = 0);

// A dataset of `n` random images of `features` pixels in [0, 1] with random labels in [0, classes).
Dataset random_dataset(int64_t n, int64_t features, int64_t classes, uint64_t seed);

}  // namespace gradflow
