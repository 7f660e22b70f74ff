#include "gradflow/bench.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>

#include <omp.h>

#include "gradflow/data/batcher.h"
#include "gradflow/errors.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/kernels/bfloat16.h"
#include "gradflow/kernels/onednn.h"
#include "gradflow/evaluate.h"
#include "gradflow/kernels/gemm.h"
#include "gradflow/optim/schedule.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/parallel.h"
#include "gradflow/train/epoch_runner.h"
#include "gradflow/train/step.h"

namespace gradflow {

using Clock = std::chrono::steady_clock;

nlohmann::json BenchResult::to_json() const {
  nlohmann::json j = {{"threads", threads},
                      {"backend", backend},
                      {"precision", precision},
                      {"products_run_on", products_run_on},
                      {"matmul_reference", matmul_reference},
                      {"batch", batch},
                      {"train_samples", train_samples},
                      {"epochs", epochs},
                      {"epoch_seconds", epoch_seconds},
                      {"seconds_per_epoch", seconds_per_epoch},
                      {"samples_per_second", samples_per_second},
                      {"model_gflop_per_step", model_gflop_per_step},
                      {"executed_gflop_per_step", executed_gflop_per_step},
                      {"step_gflops", step_gflops},
                      {"matmul_gflops", matmul_gflops},
                      {"step_to_matmul", step_to_matmul()},
                      {"eval_seconds", eval_seconds},
                      {"eval_samples", eval_samples}};
  if (!bf16_implementation.empty()) j["bf16_products"] = bf16_implementation;
  if (stage_steps > 0) {
    const double total = stages_microseconds();
    nlohmann::json list = nlohmann::json::array();
    for (const StageTime& st : stages) {
      list.push_back({{"stage", st.stage},
                      {"microseconds", st.microseconds},
                      {"share", total > 0 ? st.microseconds / total : 0.0},
                      {"gflops", st.gflops}});
    }
    j["stages"] = list;
    j["stage_steps"] = stage_steps;
  }
  return j;
}

double BenchResult::step_to_matmul() const { return matmul_gflops > 0 ? step_gflops / matmul_gflops : 0.0; }

double BenchResult::stages_microseconds() const {
  double total = 0;
  for (const StageTime& st : stages) total += st.microseconds;
  return total;
}

Dataset random_dataset(int64_t n, int64_t features, int64_t classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset d;
  d.images.resize(n, features);
  d.labels.resize(n);
  for (Eigen::Index i = 0; i < d.images.size(); ++i) d.images.data()[i] = static_cast<float>(rng() >> 40) / 16777216.0f;
  for (int64_t i = 0; i < n; ++i) d.labels[i] = static_cast<int>(rng() % static_cast<uint64_t>(classes));
  return d;
}

namespace {
// The plain products the training step is measured against, run alone with nothing else of the
// step around them:
//   fp32: the largest dense layer's forward product (B, in) x (in, out), through gemm() as the
//         layer runs it;
//   bf16: every product of the step at the model's shapes (forward, dW, and dx but the first
//         layer's), through oneDNN with the bf16 conversions the step makes (x and W per layer in
//         forward, dy in backward), as the dense layers run them.
class PlainProduct {
 public:
  PlainProduct(std::function<void()> products, double flop) : products_(std::move(products)), flop_(flop) {
    // enough repetitions for ~0.1 s per round
    for (;;) {
      const auto t0 = Clock::now();
      for (int r = 0; r < reps_; ++r) products_();
      if (std::chrono::duration<double>(Clock::now() - t0).count() > 0.025 || reps_ > (1 << 20)) break;
      reps_ *= 2;
    }
    reps_ *= 4;
  }
  // GFLOP/s of one round
  double round() {
    const auto t0 = Clock::now();
    for (int r = 0; r < reps_; ++r) products_();
    return flop_ * reps_ / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9;
  }

 private:
  std::function<void()> products_;
  double flop_;
  int reps_ = 1;
};

// A dense layer's shape, (out, in).
struct DenseShape {
  int64_t in, out;
};

std::unique_ptr<PlainProduct> fp32_reference(int64_t batch, DenseShape largest) {
  auto x = std::make_shared<Matrix>(Matrix::Random(batch, largest.in));
  auto w = std::make_shared<Matrix>(Matrix::Random(largest.out, largest.in));
  auto y = std::make_shared<Matrix>();
  return std::make_unique<PlainProduct>([x, w, y] { gemm<float>(false, true, *x, *w, *y); },
                                        2.0 * static_cast<double>(batch * largest.in * largest.out));
}

std::unique_ptr<PlainProduct> bf16_reference(int64_t batch, const std::vector<DenseShape>& layers) {
  struct Operands {
    Matrix x, w, dy, y, dw, dx;
    MatrixBf16 x16, w16, dy16;
  };
  auto all = std::make_shared<std::vector<Operands>>();
  double flop = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const DenseShape& l = layers[i];
    all->push_back({Matrix::Random(batch, l.in), Matrix::Random(l.out, l.in), Matrix::Random(batch, l.out),
                    Matrix(batch, l.out), Matrix(l.out, l.in), Matrix(batch, l.in), {}, {}, {}});
    flop += 2.0 * static_cast<double>(batch * l.in * l.out) * (i == 0 ? 2 : 3);
  }
  return std::make_unique<PlainProduct>(
      [all] {
        for (Operands& o : *all) {  // forward
          to_bfloat16(o.x, o.x16);
          to_bfloat16(o.w, o.w16);
          bf16_gemm(false, true, o.x16, o.w16, o.y);
        }
        for (size_t i = all->size(); i-- > 0;) {  // backward
          Operands& o = (*all)[i];
          to_bfloat16(o.dy, o.dy16);
          bf16_gemm(true, false, o.dy16, o.x16, o.dw);
          if (i > 0) bf16_gemm(false, false, o.dy16, o.w16, o.dx);
        }
      },
      flop);
}

// What the products run on: the bf16 units, or the vector instructions gradflow was compiled for.
std::string products_run_on(Precision precision) {
  if (precision == Precision::BF16) return bf16_hardware().units;
#if defined(__AVX512F__)
  return "AVX-512 (float32)";
#elif defined(__AVX2__)
  return "AVX2 (float32)";
#else
  return "SSE2 (float32)";
#endif
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}

// FLOPs of layer i's forward on `rows` samples, as the layer counts them (Layer::forward_flop).
double forward_flop(Sequential<float>& model, size_t i, int64_t rows) {
  return model.layer(i).forward_flop(rows);
}
// Its backward, as executed: dW and dx, twice the forward, less dx for the first layer, whose
// input gradient nothing needs.
double executed_backward_flop(Sequential<float>& model, size_t i, int64_t rows) {
  return (i == 0 ? 1 : 2) * forward_flop(model, i, rows);
}

// Times the first `steps` batches of a new epoch (all full, of `batch` rows) stage by stage,
// through the model's stage hook: the time from one mark to the next is the stage between them.
std::vector<StageTime> time_stages(Sequential<float>& model, Optimizer& optimizer, Batcher& batcher, int64_t batch,
                                   double lr, int64_t steps) {
  std::vector<StageTime> stages{{"gather batch"}};
  std::vector<double> stage_flop{0};
  auto add = [&](std::string name, double f) {
    stages.push_back({std::move(name)});
    stage_flop.push_back(f);
  };
  const size_t layers = model.size();
  for (size_t i = 0; i < layers; ++i) {
    add(std::to_string(i) + " " + model.layer(i).type() + " forward", forward_flop(model, i, batch));
  }
  add("head forward", 0);
  add("head backward", 0);
  for (size_t i = layers; i-- > 0;) {
    add(std::to_string(i) + " " + model.layer(i).type() + " backward", executed_backward_flop(model, i, batch));
  }
  add(optimizer.type() + " update", 0);

  std::vector<std::vector<double>> samples(stages.size());
  for (auto& s : samples) s.reserve(static_cast<size_t>(steps));
  Clock::time_point last;
  size_t k = 0;
  auto mark = [&] {
    const auto now = Clock::now();
    samples[k++].push_back(std::chrono::duration<double, std::micro>(now - last).count());
    last = now;
  };
  struct Unhook {
    Sequential<float>& model;
    ~Unhook() { model.set_stage_hook(nullptr); }
  } unhook{model};
  model.set_stage_hook([&](size_t, Sequential<float>::Pass) { mark(); });

  batcher.shuffle();
  Matrix x;
  Labels y;
  for (int64_t b = 0; b < steps; ++b) {
    k = 0;
    last = Clock::now();
    batcher.gather(b, x, y);
    mark();
    if (!train_step(model, optimizer, x, y, lr).finite()) {
      throw DivergenceError("training diverged while timing the step's stages: the loss or a gradient is not finite; "
                            "try a lower /optimizer/lr");
    }
    mark();
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    stages[i].microseconds = median(samples[i]);
    stages[i].gflops = stage_flop[i] > 0 ? stage_flop[i] / stages[i].microseconds / 1e3 : 0.0;
  }
  return stages;
}
}  // namespace

BenchResult benchmark_training(const Config& config, const Dataset& train, const Dataset& test, int64_t epochs,
                               int64_t stage_steps) {
  set_threads(config.threads);
  use_product_backend(config.backend);
  use_precision(parse_precision(config.precision));
  const bool bf16 = product_precision() == Precision::BF16;
  if (bf16) log_bf16_hardware();
  BenchResult r;
  r.precision = precision_name(product_precision());
  r.products_run_on = products_run_on(product_precision());
  if (bf16) r.bf16_implementation = bf16_hardware().describe();
  r.matmul_reference = bf16 ? "the step's bf16 products and conversions" : "the largest layer's forward product";
  r.threads = omp_get_max_threads();
  r.backend = product_backend().name();
  r.batch = config.training.batch_size;
  r.train_samples = train.size();
  r.epochs = epochs;

  std::mt19937_64 rng(config.seed);
  Sequential<float> model(config.model);
  model.initialize(rng);
  const std::unique_ptr<Optimizer> optimizer = make_optimizer(model.parameters(), config.optimizer);
  Batcher batcher(train, config.training.batch_size, rng);
  const Schedule schedule(config.schedule, batcher.batches(), epochs);

  // FLOPs of a full batch, and the dense layers' shapes
  std::vector<DenseShape> dense;
  DenseShape largest{0, 0};
  double model_flop = 0, executed_flop = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    const double forward = forward_flop(model, i, r.batch);
    if (forward == 0) continue;
    model_flop += 3 * forward;
    executed_flop += forward + executed_backward_flop(model, i, r.batch);
    const DenseShape shape{model.layer(i).input_size(), model.layer(i).output_size()};
    dense.push_back(shape);
    if (shape.in * shape.out > largest.in * largest.out) largest = shape;
  }
  r.model_gflop_per_step = model_flop / 1e9;
  r.executed_gflop_per_step = executed_flop / 1e9;

  // The machine's speed drifts: a round of the plain products runs after every epoch, and both
  // are compared by their medians.
  std::unique_ptr<PlainProduct> plain;
  if (!dense.empty()) {
    plain = bf16 ? bf16_reference(r.batch, dense) : fp32_reference(r.batch, largest);
  }
  std::vector<double> plain_gflops;

  EpochRunner runner(model, *optimizer, batcher, schedule);
  TrainPosition position;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    batcher.shuffle();
    position.batch = 0;
    const auto t0 = Clock::now();
    runner.run(epoch, position);
    r.epoch_seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (plain) plain_gflops.push_back(plain->round());
  }
  const int64_t step = position.step;
  r.seconds_per_epoch = median({r.epoch_seconds.begin() + (epochs > 1 ? 1 : 0), r.epoch_seconds.end()});
  r.samples_per_second = static_cast<double>(train.size()) / r.seconds_per_epoch;
  const double steps = static_cast<double>(train.size()) / static_cast<double>(r.batch);
  r.step_gflops = r.executed_gflop_per_step * steps / r.seconds_per_epoch;
  if (plain) r.matmul_gflops = median(plain_gflops);

  if (stage_steps > 0 && train.size() > 0) {
    // full batches only (one smaller batch when the data is smaller than a batch)
    const int64_t rows = std::min(r.batch, train.size());
    r.stage_steps = std::min(stage_steps, train.size() / rows);
    r.stages = time_stages(model, *optimizer, batcher, rows, schedule.learning_rate(step - 1), r.stage_steps);
  }

  evaluate(model, test, config.training.eval_batch_size);  // warm up
  const auto e0 = Clock::now();
  evaluate(model, test, config.training.eval_batch_size);
  r.eval_seconds = std::chrono::duration<double>(Clock::now() - e0).count();
  r.eval_samples = test.size();
  return r;
}

}  // namespace gradflow
