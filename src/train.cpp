#include "gradflow/train.h"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"
#include "gradflow/data/batcher.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"
#include "gradflow/optim/schedule.h"
#include "gradflow/optim/sgd.h"
#include "gradflow/report/report.h"
#include "gradflow/train_state.h"

namespace gradflow {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json EpochMetrics::to_json() const {
  return {{"epoch", epoch},
          {"train_loss", train_loss},
          {"train_accuracy", train_accuracy},
          {"validation_loss", validation_loss},
          {"validation_accuracy", validation_accuracy},
          {"lr", learning_rate},
          {"seconds", seconds},
          {"samples_per_second", samples_per_second}};
}

json TrainSummary::to_json() const {
  json j{{"run_dir", run_dir},
          {"epochs", last_epoch.epoch},
          {"test_accuracy", test.accuracy},
          {"test_loss", test.loss},
          {"test_samples", test.count},
          {"validation_accuracy", last_epoch.validation_accuracy},
          {"validation_loss", last_epoch.validation_loss},
          {"train_seconds", train_seconds},
          {"total_seconds", total_seconds},
          {"checkpoint", (std::filesystem::path(run_dir) / "model.safetensors").string()}};
  if (!calibration.is_null()) {
    j["temperature"] = calibration["fit"]["temperature"];
    j["temperature_bound"] = calibration["fit"]["bound"];
    for (const char* key : {"nll", "ece", "mce", "brier"}) {
      j[std::string("test_") + key + "_before"] = calibration["test_before"][key];
      j[std::string("test_") + key + "_after"] = calibration["test_after"][key];
    }
  }
  return j;
}

StepOutcome train_step(Sequential<float>& model, Sgd& optimizer, const Eigen::Ref<const Matrix>& x,
                       const Eigen::Ref<const Labels>& y, double lr, std::vector<double>* update_norms) {
  StepOutcome outcome;
  outcome.loss = model.forward_loss(x, y);
  outcome.loss_finite = std::isfinite(outcome.loss);
  model.backward();
  outcome.gradient_finite = optimizer.step(lr, update_norms);
  return outcome;
}

void check_model_input(const Config& config, const Dataset& data) {
  const int64_t input = config.model.at("input").get<int64_t>();
  if (data.features() != input) {
    throw ConfigError("/model/input", "expected " + std::to_string(data.features()) +
                                          " (the features of the images in " + config.data.dir + "), got " +
                                          std::to_string(input));
  }
}

void set_threads(int threads) {
  const int n = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(n);  // gradflow splits its own products (layers/gemm.h); Eigen never threads
}

namespace {

// Per layer: ||dL/dW||, ||delta|| entering it, ||update|| / ||W||, and for ReLU the fraction of
// units that are 0 for every sample of the batch (dead on this batch).
json gradient_flow_record(Sequential<float>& model, const std::vector<double>& update_norms, int64_t epoch,
                          int64_t step) {
  json layers = json::array();
  size_t parameter = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    Layer<float>& layer = model.layer(i);
    json entry{{"layer", i}, {"type", layer.type()}, {"delta_norm", model.gradient_into(i).norm()}};
    for (const auto& p : layer.parameters()) {
      Eigen::Map<const Eigen::ArrayXf> value(p.value, p.size()), gradient(p.gradient, p.size());
      const double weight_norm = value.matrix().norm();
      entry[p.name + "_grad_norm"] = gradient.matrix().norm();
      entry[p.name + "_update_ratio"] = weight_norm > 0 ? update_norms[parameter] / weight_norm : 0.0;
      ++parameter;
    }
    const GateStatistics gates = layer.gate_statistics(model.input(i), model.output(i));
    if (gates.dead_fraction >= 0) entry["dead_fraction"] = gates.dead_fraction;
    layers.push_back(std::move(entry));
  }
  return {{"epoch", epoch}, {"step", step}, {"layers", layers}};
}

// Keeps the lines of a .jsonl log whose `key` is below `limit` (a resumed run rewrites the rest).
void truncate_log(const std::string& path, const char* key, int64_t limit) {
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    const json record = json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value(key, limit) < limit) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace

TrainSummary train(const Config& config, const std::string& run_dir, TrainObserver* observer,
                   const TrainControl& control) {
  const auto start = Clock::now();
  set_threads(config.threads);
  spdlog::info("run {}: loading {}", config.name, config.data.dir);
  auto [train_data, validation_data, test_data] = load_mnist(config.data);
  check_model_input(config, train_data);
  spdlog::info("train {} / validation {} / test {} samples of {} features, {} threads", train_data.size(),
               validation_data.size(), test_data.size(), train_data.features(), omp_get_max_threads());

  std::mt19937_64 rng(config.seed);
  Sequential<float> model(config.model);
  model.initialize(rng);
  Sgd optimizer(model.parameters(), config.optimizer);
  TrainPosition position;
  position.epoch_rng = rng_state(rng);
  if (control.resume != nullptr) {
    TrainState& state = *control.resume;
    copy_state(state.checkpoint.model, model);
    if (state.momentum.size() != optimizer.momentum_buffers().size()) {
      throw InputError("the resumed checkpoint's momentum buffers do not match /optimizer/momentum");
    }
    optimizer.momentum_buffers() = state.momentum;
    for (size_t i = 0; i < model.size(); ++i) {
      if (!state.layer_rng[i].empty()) model.layer(i).set_random_state(state.layer_rng[i]);
    }
    position = state.position;
    spdlog::info("resuming at epoch {}, batch {} (step {})", position.epoch, position.batch, position.step);
  }

  namespace fs = std::filesystem;
  fs::create_directories(run_dir);
  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  const std::string grads_path = (fs::path(run_dir) / "grads.jsonl").string();
  const std::string model_path = (fs::path(run_dir) / "model.safetensors").string();
  const std::string last_path = (fs::path(run_dir) / "last.safetensors").string();
  const json resolved = config.to_json();
  write_file_atomic((fs::path(run_dir) / "config.json").string(), resolved.dump(2) + "\n");
  if (control.resume != nullptr) {
    truncate_log(metrics_path, "epoch", position.epoch);
    truncate_log(grads_path, "step", position.step);
  } else {
    write_file_atomic(metrics_path, "");
    fs::remove(grads_path);
  }
  for (const char* stale : {"summary.json", "calibration.json", "report.html"}) fs::remove(fs::path(run_dir) / stale);
  std::vector<double> update_norms;

  Batcher batcher(train_data, config.training.batch_size, rng);
  const Schedule schedule(config.schedule, batcher.batches(), config.training.epochs);
  Matrix x;
  Labels y;
  TrainSummary summary;
  summary.run_dir = run_dir;
  summary.train_seconds = position.train_seconds;
  for (int64_t epoch = position.epoch; epoch <= config.training.epochs; ++epoch) {
    if (observer) observer->on_epoch_begin(epoch, config.training.epochs, batcher.batches());
    set_rng_state(rng, position.epoch_rng);  // the same order as an uninterrupted run
    batcher.shuffle();
    const auto epoch_start = Clock::now();
    double lr = 0.0;
    for (int64_t b = position.batch; b < batcher.batches(); ++b) {
      batcher.gather(b, x, y);
      lr = schedule.learning_rate(position.step);
      const int64_t every = config.training.log_grad_every;
      const bool log_grads = every > 0 && position.step % every == 0;
      const StepOutcome outcome = train_step(model, optimizer, x, y, lr, log_grads ? &update_norms : nullptr);
      if (!outcome.finite()) {
        throw DivergenceError("training diverged at epoch " + std::to_string(epoch) + ", step " +
                              std::to_string(position.step) + ": the " + (outcome.loss_finite ? "gradient" : "loss") +
                              " is not finite; try a lower /optimizer/lr" +
                              (fs::exists(last_path) ? "; the last good checkpoint is " + last_path : ""));
      }
      const double loss = outcome.loss;
      if (log_grads) append_line(grads_path, gradient_flow_record(model, update_norms, epoch, position.step).dump());
      ++position.step;
      position.batch = b + 1;
      position.loss_sum += loss * static_cast<double>(y.size());
      position.correct += model.head().correct();
      position.seen += y.size();
      if (observer) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        observer->on_batch(b + 1, position.loss_sum / static_cast<double>(position.seen),
                           elapsed > 0 ? static_cast<double>(position.seen) / elapsed : 0.0);
      }
      if (control.stop != nullptr && control.stop->load() && position.batch < batcher.batches()) {
        save_train_state(last_path, model, optimizer, position, resolved);
        summary.interrupted = true;
        summary.position = position;
        spdlog::warn("interrupted at epoch {}, step {}: saved {}", epoch, position.step, last_path);
        return summary;
      }
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    m.train_loss = position.loss_sum / static_cast<double>(position.seen);
    m.train_accuracy = static_cast<double>(position.correct) / static_cast<double>(position.seen);
    m.learning_rate = lr;
    m.samples_per_second = static_cast<double>(position.seen) / m.seconds;
    if (validation_data.size() > 0) {
      const EvalResult v = evaluate(model, validation_data, config.training.eval_batch_size);
      m.validation_loss = v.loss;
      m.validation_accuracy = v.accuracy;
    }
    summary.train_seconds += m.seconds;
    if (observer) observer->on_epoch_end(m);
    spdlog::info("epoch {}/{}  train loss {:.4f} acc {:.2f}%  val loss {:.4f} acc {:.2f}%  lr {:.4g}  {:.1f} s  {:.0f} samples/s",
                 epoch, config.training.epochs, m.train_loss, 100 * m.train_accuracy, m.validation_loss,
                 100 * m.validation_accuracy, m.learning_rate, m.seconds, m.samples_per_second);
    append_line(metrics_path, m.to_json().dump());
    summary.last_epoch = m;

    position = TrainPosition{epoch + 1, 0, position.step, rng_state(rng), 0, 0, 0, summary.train_seconds};
    const int64_t every = config.training.checkpoint_every;
    const bool stopping = control.stop != nullptr && control.stop->load();
    if ((every > 0 && epoch % every == 0) || (stopping && epoch < config.training.epochs)) {
      save_train_state(last_path, model, optimizer, position, resolved);
    }
    if (stopping && epoch < config.training.epochs) {
      summary.interrupted = true;
      summary.position = position;
      spdlog::warn("interrupted after epoch {}: saved {}", epoch, last_path);
      return summary;
    }
  }

  std::map<std::string, std::string> metadata;
  const std::string calibration_path = (fs::path(run_dir) / "calibration.json").string();
  if (config.calibration.method == "temperature") {
    if (validation_data.size() == 0) {
      spdlog::warn("no validation split (data.validation = 0): skipping temperature scaling");
    } else {
      const CalibrationResult calibration =
          calibrate(model, validation_data, test_data, config.calibration.bins, config.training.eval_batch_size);
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", calibration.fit.temperature);
      metadata[kTemperatureKey] = text;
      summary.calibration = calibration.to_json();
      write_file_atomic(calibration_path, summary.calibration.dump(1) + "\n");
      spdlog::info("temperature scaling: T = {:.4f}{} ({} iterations); test ECE {:.4f} -> {:.4f}, NLL {:.4f} -> {:.4f}",
                   calibration.fit.temperature,
                   calibration.fit.bound.empty() ? "" : " (at the " + calibration.fit.bound + " bound)",
                   calibration.fit.iterations, calibration.before.ece, calibration.after.ece, calibration.before.nll,
                   calibration.after.nll);
    }
  }
  save_checkpoint(model_path, model, resolved, metadata);
  summary.test = evaluate(model, test_data, config.training.eval_batch_size);
  summary.total_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  write_file_atomic((fs::path(run_dir) / "summary.json").string(), summary.to_json().dump(2) + "\n");
  spdlog::info("test loss {:.4f} acc {:.2f}%  ({:.1f} s training, {:.1f} s in all)", summary.test.loss,
               100 * summary.test.accuracy, summary.train_seconds, summary.total_seconds);
  spdlog::info("report: {}", write_report(run_dir));
  return summary;
}

}  // namespace gradflow
