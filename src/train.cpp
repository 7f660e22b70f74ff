#include "gradflow/train.h"

#include <omp.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "gradflow/checkpoint.h"
#include "gradflow/distributed/communicator.h"
#include "gradflow/data/batcher.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/kernels/bfloat16.h"
#include "gradflow/kernels/onednn.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/optim/schedule.h"
#include "gradflow/train/epoch_runner.h"
#include "gradflow/train/finish.h"
#include "gradflow/train/mixup.h"
#include "gradflow/train/run_directory.h"

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

void set_summary_calibration(json& summary, const json& calibration_json) {
  json calibration = calibration_json;  // operator[] on a missing key gives null
  // the temperature of the calibrator in use: none for vector scaling (its fit's "temperature" is
  // only the temperature-scaling fit it starts from)
  const json& parameters = calibration["calibrator"]["parameters"];
  const bool temperature_method = calibration["method"] == "temperature" || calibration["method"].is_null();
  summary["temperature"] = parameters.contains("temperature") ? parameters["temperature"]
                           : temperature_method             ? calibration["fit"]["temperature"]
                                                            : json(nullptr);
  summary["temperature_bound"] = temperature_method ? calibration["fit"]["bound"] : json(nullptr);
  summary["calibration_method"] = calibration["method"];
  for (const char* key : {"accuracy", "nll", "ece", "mce", "brier"}) {
    summary[std::string("test_") + key + "_before"] = calibration["test_before"][key];
    summary[std::string("test_") + key + "_after"] = calibration["test_after"][key];
    summary[std::string("test_") + key + "_before_interval"] = calibration["test_before"]["intervals"][key];
    summary[std::string("test_") + key + "_after_interval"] = calibration["test_after"]["intervals"][key];
    summary[std::string("test_") + key + "_change"] = calibration["changes"][key];
  }
  summary["test_ece_noise_floor"] = calibration["test_after"]["estimators"]["noise_floor"];
  summary["calibration_bootstrap"] = calibration["bootstrap"];
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
          {"sessions", sessions},
          {"ranks", ranks},
          {"stopped_early", stopped_early},
          {"checkpoint", (std::filesystem::path(run_dir) / "model.safetensors").string()}};
  if (best_epoch > 0) {
    j["best"] = {{"epoch", best_epoch},
                 {"metric", best_metric},
                 {"value", best_value},
                 {"checkpoint", (std::filesystem::path(run_dir) / "best.safetensors").string()},
                 {"restored", restored_best}};
    if (restored_best) {  // the model is that epoch's
      j["validation_accuracy"] = best.validation_accuracy;
      j["validation_loss"] = best.validation_loss;
    }
  }
  if (!tested) {  // training.test false: the test split was never looked at
    for (const char* key : {"test_accuracy", "test_loss", "test_samples"}) j.erase(key);
    j["test"] = "not evaluated (training.test is false)";
  }
  if (!calibration.is_null()) set_summary_calibration(j, calibration);
  return j;
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

// The model, its optimizer and where training stands: fresh from the config's seed, or as a
// resumable checkpoint left them.
struct Trainee {
  Sequential<float> model;
  std::unique_ptr<Optimizer> optimizer;
  TrainPosition position;
};

Trainee start_or_resume(const Config& config, std::mt19937_64& rng, const TrainControl& control) {
  Trainee t{Sequential<float>(config.model), nullptr, {}};
  t.model.initialize(rng);
  t.optimizer = make_optimizer(t.model.parameters(), config.optimizer);
  t.position.epoch_rng = rng_state(rng);
  if (control.resume != nullptr) {
    TrainState& state = *control.resume;
    // the layers as the checkpoint trained them; --set may change training, not the model
    const json trained = state.checkpoint.model.describe(), asked = t.model.describe();
    for (const char* key : {"input", "layers"}) {
      if (trained.at(key) == asked.at(key)) continue;
      const json patch = json::diff(trained.at(key), asked.at(key));
      const std::string at = "/model/" + std::string(key) + (patch.empty() ? "" : patch[0].value("path", std::string()));
      throw InputError(state.path + ": a resumed run keeps its model, and the config changes it at " + at +
                       "; train a new run (--config) for another model");
    }
    try {
      copy_state(state.checkpoint.model, t.model);
    } catch (const InputError& e) {
      throw InputError(state.path + ": the checkpoint's model does not match /model of the config (" + e.what() +
                       "); a resumed run keeps its model");
    }
    restore_optimizer(state, *t.optimizer);
    for (size_t i = 0; i < t.model.size(); ++i) {
      if (!state.layer_rng[i].empty()) t.model.layer(i).set_random_state(state.layer_rng[i]);
    }
    t.position = state.position;
    spdlog::info("resuming at epoch {}, batch {} (step {})", t.position.epoch, t.position.batch, t.position.step);
  }
  return t;
}

EpochMetrics epoch_metrics(int64_t epoch, const TrainPosition& p, double seconds, double lr, Sequential<float>& model,
                           const Dataset& validation, int64_t eval_batch_size, Communicator& ranks) {
  EpochMetrics m;
  m.epoch = epoch;
  m.seconds = seconds;
  m.train_loss = p.loss_sum / static_cast<double>(p.seen);
  m.train_accuracy = static_cast<double>(p.correct) / static_cast<double>(p.seen);
  m.learning_rate = lr;
  m.samples_per_second = static_cast<double>(p.seen) / m.seconds;
  if (validation.size() > 0) {
    const EvalResult v = evaluate(model, validation, eval_batch_size, &ranks);
    m.validation_loss = v.loss;
    m.validation_accuracy = v.accuracy;
  }
  return m;
}

// "; the last good checkpoint is RUN/last.safetensors" when this run has one, for divergence messages.
std::string last_good_checkpoint(const RunDirectory& dir) {
  return std::filesystem::exists(dir.last()) ? "; the last good checkpoint is " + dir.last() : "";
}

// A run can blow up and stay finite (lr 1000: a loss of 1e7, chance accuracy). Predicting every
// class equally costs ln C. Two signs that learning has stopped, after an epoch:
// - a mean training loss over 10 ln C;
// - from the second epoch on, a loss still ≥ 0.95 ln C with training (and validation) accuracy
//   within 2 points of chance, 1/C: the model predicts no better than a constant guess.
// DivergenceError, before the epoch's state can be saved over the last good checkpoint.
void check_still_learning(const EpochMetrics& m, bool has_validation, int64_t classes, const RunDirectory& dir) {
  const double uniform = std::log(static_cast<double>(classes)), chance = 1.0 / static_cast<double>(classes);
  char text[240];
  std::string advice = "; try a lower /optimizer/lr";
  if (m.train_loss > 10 * uniform) {
    std::snprintf(text, sizeof text, "training diverged in epoch %lld: its mean training loss %.4g is over 10 ln C = %.4g "
                  "(10 times what predicting every class equally costs)", static_cast<long long>(m.epoch), m.train_loss, 10 * uniform);
  } else if (m.epoch >= 2 && m.train_loss >= 0.95 * uniform && m.train_accuracy <= chance + 0.02 &&
             (!has_validation || m.validation_accuracy <= chance + 0.02)) {
    std::snprintf(text, sizeof text, "training stalled at chance level in epoch %lld: accuracy %.1f%% against 1/C = %.1f%%, "
                  "mean training loss %.4g against ln C = %.4g", static_cast<long long>(m.epoch),
                  100 * (has_validation ? m.validation_accuracy : m.train_accuracy), 100 * chance, m.train_loss, uniform);
    advice = "; check that the labels belong to the images, or try another /optimizer/lr";
  } else {
    return;
  }
  throw DivergenceError(std::string(text) + advice + last_good_checkpoint(dir));
}

// "validation loss" for validation_loss
std::string metric_words(const std::string& metric) {
  std::string words = metric;
  std::replace(words.begin(), words.end(), '_', ' ');
  return words;
}

// Keeps best.safetensors: after each epoch, the model when its validation metric improved on the
// best so far by more than min_delta (`write`: on rank 0). Returns whether it did.
bool keep_if_best(const EpochMetrics& m, const EarlyStoppingOptions& rule, TrainPosition& position,
                  Sequential<float>& model, const json& config, const DataDescription& data, const RunDirectory& dir,
                  bool write) {
  const double value = rule.higher_is_better() ? m.validation_accuracy : m.validation_loss;
  const bool improved = position.best_epoch == 0 || (rule.higher_is_better() ? value > position.best_value + rule.min_delta
                                                                             : value < position.best_value - rule.min_delta);
  if (!improved) return false;
  position.best_epoch = m.epoch;
  position.best_value = value;
  if (write) save_checkpoint(dir.best(), model, config, {{kDataDescriptionKey, data.to_json().dump()}});
  return true;
}

// The metrics.jsonl record of `epoch`, or an empty record when it is not there.
EpochMetrics recorded_epoch(const RunDirectory& dir, int64_t epoch) {
  EpochMetrics m;
  std::ifstream in(dir.metrics());
  for (std::string line; std::getline(in, line);) {
    const json r = json::parse(line, nullptr, false);
    if (r.is_object() && r.value("epoch", int64_t(0)) == epoch) {
      m.epoch = epoch;
      m.train_loss = r.value("train_loss", 0.0);
      m.train_accuracy = r.value("train_accuracy", 0.0);
      m.validation_loss = r.value("validation_loss", 0.0);
      m.validation_accuracy = r.value("validation_accuracy", 0.0);
      m.learning_rate = r.value("lr", 0.0);
      m.seconds = r.value("seconds", 0.0);
      m.samples_per_second = r.value("samples_per_second", 0.0);
    }
  }
  return m;
}

// threads: 0 means this many: the cores this process may run on, shared with the other ranks on
// this machine unless the launcher bound each rank to cores of its own (mpirun does by default).
int threads_per_rank(Communicator& ranks) {
  const int usable = omp_get_num_procs();  // this process's CPU affinity
  const int machine = static_cast<int>(std::thread::hardware_concurrency());
  if (usable < machine) return usable;  // bound
  return std::max(1, usable / ranks.local_size());
}

// Data-parallel ranks each take training.batch_size / N rows of every global batch.
void check_batch_splits(const Config& config, int64_t train_samples, Communicator& ranks) {
  const int64_t n = ranks.size(), batch = config.training.batch_size;
  if (n <= 1) return;
  if (batch % n != 0) {
    throw InputError("/training/batch_size: the global batch of " + std::to_string(batch) + " does not divide among " +
                     std::to_string(n) + " ranks; use a multiple of " + std::to_string(n) + " (or another -np)");
  }
  const int64_t last = train_samples % batch;
  if (last > 0 && last < n) {
    throw InputError("/training/batch_size: the last batch of each epoch has " + std::to_string(last) +
                     " sample(s) for " + std::to_string(n) + " ranks; choose a batch size that leaves at least " +
                     std::to_string(n) + " (or none) of the " + std::to_string(train_samples) + " training samples");
  }
}

// Runs `work` on rank 0 (writing the run directory); the other ranks learn whether it failed and
// throw the same error, so that no rank waits for one that has stopped.
void on_rank0(Communicator& ranks, const std::function<void()>& work) {
  if (!ranks.distributed()) return work();
  std::string error;
  std::exception_ptr failure;
  if (ranks.rank() == 0) {
    try {
      work();
    } catch (const std::exception& e) {
      error = e.what();
      failure = std::current_exception();
    }
  }
  ranks.broadcast(error);
  if (failure) std::rethrow_exception(failure);
  if (!error.empty()) throw InputError("rank 0: " + error);
}

}  // namespace

TrainSummary train(const Config& config, const std::string& run_dir, TrainObserver* observer,
                   const TrainControl& control) {
  // a resumed run's clock carries the wall time of its earlier sessions
  const double earlier_seconds = control.resume != nullptr ? control.resume->position.wall_seconds : 0.0;
  const auto start = Clock::now() - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(earlier_seconds));
  if (control.resume != nullptr) {
    check_optimizer_type(*control.resume, config.optimizer.at("type"));
    const TrainPosition& p = control.resume->position;
    // every epoch trained but killed while finishing (no summary.json yet): what is left is the finish
    if (p.epoch > config.training.epochs && std::filesystem::exists(std::filesystem::path(run_dir) / "summary.json")) {
      throw InputError(control.resume->path + ": the run is finished (" + std::to_string(p.epoch - 1) + " of " +
                       std::to_string(config.training.epochs) +
                       " epochs); --set training.epochs=N with N > " + std::to_string(p.epoch - 1) + " extends it");
    }
  }
  Communicator& ranks = control.ranks != nullptr ? *control.ranks : single_process();
  const bool writer = ranks.rank() == 0;  // rank 0 alone writes the run directory and shows progress
  if (!writer) observer = nullptr;
  RunDirectory dir(run_dir);
  on_rank0(ranks, [&] {
    dir.claim(control.resume != nullptr, control.replace);
    if (control.resume != nullptr) dir.check_config_unedited(control.resume->checkpoint.config);
  });
  set_threads(config.threads > 0 ? config.threads : threads_per_rank(ranks));
  use_product_backend(config.backend);
  use_precision(parse_precision(config.precision));
  spdlog::info("run {}: loading {}", config.name, display_path(config.data.dir));
  auto [train_data, validation_data, test_data, data_description] = load_data(config.data);
  check_model_fits_data(config, data_description);
  check_batch_splits(config, train_data.size(), ranks);
  spdlog::info("train {} / validation {} / test {} samples of {} features, {} threads, {} products", train_data.size(),
               validation_data.size(), test_data.size(), train_data.features(), omp_get_max_threads(),
               product_backend().name());
  if (product_precision() == Precision::BF16) log_bf16_hardware();
  if (ranks.distributed()) {
    spdlog::info("data-parallel on {}: each rank takes {} of every global batch of {}", ranks.description(),
                 config.training.batch_size / ranks.size(), config.training.batch_size);
    const int threads = omp_get_max_threads(), fair = threads_per_rank(ranks);
    if (writer && threads > fair) {
      spdlog::warn("{} threads per rank, with {} ranks on this machine of {} cores ({} core(s) for each rank): "
                   "the threads will wait for each other; set threads to 0 or --threads {}",
                   threads, ranks.local_size(), std::thread::hardware_concurrency(), fair, fair);
    }
  }

  std::mt19937_64 rng(config.seed);
  Trainee trainee = start_or_resume(config, rng, control);
  Sequential<float>& model = trainee.model;
  Optimizer& optimizer = *trainee.optimizer;
  TrainPosition& position = trainee.position;

  // training.ema: the averaged weights are the ones evaluated, calibrated and saved; the live ones train
  std::unique_ptr<WeightAverage> average;
  if (config.training.ema > 0) {
    average = std::make_unique<WeightAverage>(model, config.training.ema);
    if (control.resume != nullptr && !restore_average(*control.resume, *average)) {
      spdlog::info("{} holds no weight average: it starts at its weights", control.resume->path);
    }
  }
  Sequential<float>& evaluated = average ? average->model() : model;

  // training.mixup: its generator resumes where the checkpoint left it
  std::unique_ptr<Mixup> mixup;
  if (config.training.mixup.enabled()) {
    mixup = std::make_unique<Mixup>(config.training.mixup, config.seed);
    if (control.resume != nullptr && position.mixup_rng.empty()) {
      spdlog::info("{} holds no mixup generator (training.mixup added on resuming): it starts from the seed",
                   control.resume->path);
    } else if (control.resume != nullptr) {
      try {
        mixup->set_random_state(position.mixup_rng);
      } catch (const InputError& e) {
        throw InputError(control.resume->path + ": " + e.what());
      }
    }
  }

  const json resolved = config.to_json();
  if (writer) dir.prepare(resolved, control.resume != nullptr ? &position : nullptr);

  Batcher batcher(train_data, config.training.batch_size, rng);
  const Schedule schedule(config.schedule, batcher.batches(), config.training.epochs);
  EpochRunnerOptions steps;
  steps.update_norms_every = config.training.log_grad_every;
  steps.ranks = &ranks;
  steps.check_replicas = config.training.check_replicas;
  steps.average = average.get();
  steps.adapt_threads = config.training.adapt_threads;
  steps.adversarial = config.training.adversarial;
  steps.mixup = mixup.get();
  EpochRunner runner(model, optimizer, batcher, schedule, steps);
  TrainSummary summary;
  summary.run_dir = std::filesystem::absolute(run_dir).lexically_normal().string();
  summary.train_seconds = position.train_seconds;
  summary.sessions = position.sessions + 1;
  summary.ranks = ranks.size();
  // the position saved in a checkpoint counts this session and its wall time so far
  auto saved_position = [&] {
    TrainPosition p = position;
    p.sessions = summary.sessions;
    p.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    p.mixup_rng = mixup ? mixup->random_state() : std::string();
    return p;
  };
  auto interrupted = [&](const std::string& when) {
    if (writer) save_train_state(dir.last(), model, optimizer, saved_position(), resolved, average.get());
    summary.interrupted = true;
    summary.position = position;
    if (writer) spdlog::warn("interrupted {}: saved {}", when, dir.last());
    return summary;
  };
  auto stopping = [&] { return control.stop != nullptr && control.stop->load(); };

  for (int64_t epoch = position.epoch; epoch <= config.training.epochs; ++epoch) {
    if (observer) observer->on_epoch_begin(epoch, config.training.epochs, batcher.batches());
    set_rng_state(rng, position.epoch_rng);  // the same order as an uninterrupted run
    batcher.shuffle();
    double lr = 0.0;
    const double carried = position.epoch_seconds;  // of an epoch interrupted and resumed
    double seconds = carried, reduce_seconds = 0;
    bool completed = false;
    try {
      const auto after_step = [&](const StepReport& r) {
        lr = r.learning_rate;
        seconds = carried + r.seconds;
        reduce_seconds = r.reduce_seconds;
        position.epoch_seconds = seconds;
        if (r.update_norms && writer) {
          dir.append_gradients(gradient_flow_record(model, *r.update_norms, epoch, r.position->step - 1));
        }
        if (observer) {
          observer->on_batch(r.position->batch, r.position->loss_sum / static_cast<double>(r.position->seen),
                             seconds > 0 ? static_cast<double>(r.position->seen) / seconds : 0.0);
        }
      };
      completed = runner.run(epoch, position, after_step, stopping);
    } catch (const DivergenceError& e) {
      throw DivergenceError(std::string(e.what()) + last_good_checkpoint(dir));
    }
    if (!completed) return interrupted("at epoch " + std::to_string(epoch) + ", step " + std::to_string(position.step));

    const EpochMetrics m =
        epoch_metrics(epoch, position, seconds, lr, evaluated, validation_data, config.training.eval_batch_size, ranks);
    summary.train_seconds += m.seconds;
    if (observer) observer->on_epoch_end(m);
    spdlog::info("epoch {}/{}  train loss {:.4f} acc {:.2f}%  val loss {:.4f} acc {:.2f}%  lr {:.4g}  {:.1f} s  {:.0f} samples/s{}",
                 epoch, config.training.epochs, m.train_loss, 100 * m.train_accuracy, m.validation_loss,
                 100 * m.validation_accuracy, m.learning_rate, m.seconds, m.samples_per_second,
                 ranks.distributed() ? fmt::format("  all-reduce {:.2f} s", reduce_seconds) : std::string());
    if (writer) {
      json record = m.to_json();
      if (ranks.distributed()) record["allreduce_seconds"] = reduce_seconds;  // rank 0's wait included
      dir.append_metrics(record);
    }
    summary.last_epoch = m;
    check_still_learning(m, validation_data.size() > 0, model.classes(), dir);
    const EarlyStoppingOptions& rule = config.training.early_stopping;
    if (validation_data.size() > 0 && keep_if_best(m, rule, position, evaluated, resolved, data_description, dir, writer)) {
      summary.best = m;
    }

    position.epoch = epoch + 1;
    position.batch = 0;
    position.epoch_rng = rng_state(rng);
    position.loss_sum = 0;
    position.correct = position.seen = 0;
    position.train_seconds = summary.train_seconds;
    position.epoch_seconds = 0;
    const bool patience_out = rule.enabled && epoch - position.best_epoch >= rule.patience;
    const bool last_epoch = epoch == config.training.epochs || patience_out;
    const bool stop = ranks.any(stopping());  // asked of every rank: any one's Ctrl-C stops them all
    if (stop && !last_epoch) return interrupted("after epoch " + std::to_string(epoch));
    const int64_t every = config.training.checkpoint_every;
    if (writer && every > 0 && epoch % every == 0) {
      save_train_state(dir.last(), model, optimizer, saved_position(), resolved, average.get());
    }
    if (patience_out && epoch < config.training.epochs) {
      spdlog::info("early stopping after epoch {}: {} epochs without a {} better than epoch {}'s {:.4g}{}", epoch,
                   epoch - position.best_epoch, metric_words(rule.metric), position.best_epoch, position.best_value,
                   rule.min_delta > 0 ? fmt::format(" by more than {:g}", rule.min_delta) : std::string());
      summary.stopped_early = true;
      break;
    }
  }

  // a resume with every epoch trained ran none: the last epoch is the one recorded
  if (summary.last_epoch.epoch == 0 && position.epoch > 1) summary.last_epoch = recorded_epoch(dir, position.epoch - 1);
  if (position.best_epoch > 0) {
    summary.best_epoch = position.best_epoch;
    summary.best_metric = config.training.early_stopping.metric;
    summary.best_value = position.best_value;
    if (summary.best.epoch != position.best_epoch) summary.best = recorded_epoch(dir, position.best_epoch);  // before a resume
    const EarlyStoppingOptions& rule = config.training.early_stopping;
    if (rule.enabled && rule.restore_best && position.best_epoch != summary.last_epoch.epoch) {
      ranks.barrier();  // rank 0 has written it
      LoadedCheckpoint best = load_checkpoint(dir.best());
      copy_state(best.model, evaluated);
      summary.restored_best = true;
      spdlog::info("restoring the weights of epoch {} ({} {:.4g})", position.best_epoch, metric_words(rule.metric),
                   position.best_value);
    }
  }

  finish_run(evaluated, config, data_description, validation_data, test_data, dir, summary, start, ranks);
  return summary;
}

}  // namespace gradflow
