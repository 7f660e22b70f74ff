// The best checkpoint and early stopping: best.safetensors holds the epoch with the best
// validation metric; training.early_stopping ends the run after `patience` epochs without an
// improvement larger than min_delta and finishes with the best weights; both survive a resume
// bit-identically; the summary says which epoch was best and how long the run took in all.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/train.h"
#include "gradflow/train_state.h"
#include "test_cli.h"
#include "test_configs.h"
#include "test_checkpoints.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {

json config_for(const std::string& data, int epochs) {
  json c = separable_config(data, epochs);
  c["training"]["checkpoint_every"] = 1;
  return c;
}

std::vector<json> metrics_of(const std::string& run) {
  std::vector<json> records;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) records.push_back(json::parse(line));
  return records;
}


}  // namespace

TEST(BestCheckpoint, IsTheEpochWithTheLowestValidationLoss) {
  const std::string data = write_separable_dataset("best_data", 400, 60);
  const std::string run = temp_dir("best_run");
  const TrainSummary s = train(parse_config(config_for(data, 4)), run);
  const std::vector<json> records = metrics_of(run);
  ASSERT_EQ(records.size(), 4u);
  const auto best = std::min_element(records.begin(), records.end(), [](const json& a, const json& b) {
    return a["validation_loss"].get<double>() < b["validation_loss"].get<double>();
  });
  EXPECT_EQ(s.best_epoch, (*best)["epoch"].get<int64_t>());
  EXPECT_EQ(s.best_value, (*best)["validation_loss"].get<double>());
  EXPECT_FALSE(s.restored_best);  // without early stopping the model is the last epoch's
  const json summary = json::parse(read_all(run + "/summary.json"));
  EXPECT_EQ(summary["best"]["epoch"], s.best_epoch);
  EXPECT_EQ(summary["best"]["metric"], "validation_loss");
  EXPECT_FALSE(summary["stopped_early"].get<bool>());
  // best.safetensors evaluates to the recorded validation loss of its epoch
  LoadedCheckpoint loaded = load_checkpoint(run + "/best.safetensors");
  const DataSplits splits = load_data(parse_config(loaded.config).data, {Split::Validation});
  EXPECT_NEAR(evaluate(loaded.model, splits.validation).loss, s.best_value, 1e-9);
}

TEST(EarlyStopping, StopsAfterPatienceEpochsAndRestoresTheBestWeights) {
  const std::string data = write_separable_dataset("early_data", 400, 60);
  const std::string run = temp_dir("early_run");
  json c = config_for(data, 20);
  // after epoch 1 no epoch can gain half the validation accuracy: it stops after 1 + patience
  c["training"]["early_stopping"] = {{"metric", "validation_accuracy"}, {"patience", 2}, {"min_delta", 0.5}};
  const std::string config = run + "/c.json";
  std::ofstream(config) << c.dump();
  const CliRun r = run_cli("train --config " + config + " --out " + run + "/run --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["epochs"], 3);
  EXPECT_TRUE(summary["stopped_early"].get<bool>());
  EXPECT_EQ(summary["best"]["epoch"], 1);
  EXPECT_TRUE(summary["best"]["restored"].get<bool>());
  EXPECT_EQ(metrics_of(run + "/run").size(), 3u);
  EXPECT_EQ(summary["validation_accuracy"], metrics_of(run + "/run")[0]["validation_accuracy"]);
  EXPECT_NE(r.err.find("early stopping after epoch 3"), std::string::npos) << r.err;
  expect_same_tensors(run + "/run/model.safetensors", run + "/run/best.safetensors");

  // restore_best false: the last epoch's weights
  c["training"]["early_stopping"]["restore_best"] = false;
  const TrainSummary last = train(parse_config(c), run + "/last");
  EXPECT_TRUE(last.stopped_early);
  EXPECT_FALSE(last.restored_best);
  const SafetensorsFile model = read_safetensors(run + "/last/model.safetensors");
  const SafetensorsFile best = read_safetensors(run + "/last/best.safetensors");
  EXPECT_NE(model.tensors.at("0.weight").values, best.tensors.at("0.weight").values);
}

TEST(EarlyStopping, ConfigErrorsNameTheirPath) {
  json c = config_for("/data", 3);
  c["training"]["early_stopping"] = {{"patience", 0}};
  EXPECT_THROW(
      try { parse_config(c); } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("/training/early_stopping"), std::string::npos) << e.what();
        throw;
      },
      ConfigError);
  c["training"]["early_stopping"] = {{"metric", "test_accuracy"}};
  EXPECT_THROW(parse_config(c), ConfigError);
  c["training"]["early_stopping"] = {{"patients", 3}};
  EXPECT_THROW(parse_config(c), ConfigError);
  c["training"]["early_stopping"] = json::object();
  c["data"]["validation"] = 0;
  EXPECT_THROW(
      try { parse_config(c); } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("/data/validation is 0"), std::string::npos) << e.what();
        throw;
      },
      ConfigError);
}

TEST(EarlyStopping, AResumedRunKeepsTheBestEpochAndItsClock) {
  const std::string data = write_separable_dataset("resume_best_data", 400, 60);
  const std::string dir = temp_dir("resume_best");
  json c = config_for(data, 5);
  c["training"]["early_stopping"] = {{"patience", 5}};
  const TrainSummary straight = train(parse_config(c), dir + "/straight");

  c["training"]["epochs"] = 2;
  train(parse_config(c), dir + "/resumed");
  TrainState state = load_train_state(dir + "/resumed/last.safetensors");
  EXPECT_EQ(state.position.sessions, 1);
  EXPECT_GT(state.position.wall_seconds, 0.0);
  EXPECT_GE(state.position.best_epoch, 1);
  c["training"]["epochs"] = 5;
  TrainControl control;
  control.resume = &state;
  const TrainSummary resumed = train(parse_config(c), dir + "/resumed", nullptr, control);

  EXPECT_EQ(resumed.best_epoch, straight.best_epoch);
  EXPECT_EQ(resumed.best_value, straight.best_value);
  EXPECT_EQ(resumed.best.validation_accuracy, straight.best.validation_accuracy);
  expect_same_tensors(dir + "/straight/best.safetensors", dir + "/resumed/best.safetensors");
  expect_same_tensors(dir + "/straight/model.safetensors", dir + "/resumed/model.safetensors");
  // the clock counts both sessions: training time never exceeds the time in all
  EXPECT_EQ(resumed.sessions, 2);
  EXPECT_GE(resumed.total_seconds, resumed.train_seconds);
  EXPECT_GE(resumed.total_seconds, state.position.wall_seconds);
  const json summary = json::parse(read_all(dir + "/resumed/summary.json"));
  EXPECT_EQ(summary["sessions"], 2);
}

TEST(GradientLogging, DoesNotChangeTheTrainedWeights) {
  // a logged step computes each update's norm too; the update itself must round the same way
  const std::string data = write_separable_dataset("logging_data", 400, 60);
  const std::string dir = temp_dir("logging");
  for (const json& optimizer : {json{{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 1e-3}},
                                json{{"type", "adam"}, {"lr", 0.01}, {"weight_decay", 1e-3}},
                                json{{"type", "adamw"}, {"lr", 0.01}}}) {
    json c = separable_config(data, 2);
    c["optimizer"] = optimizer;
    c["model"]["layers"][0]["units"] = 300;  // a tensor large enough to be split across threads
    c["threads"] = 2;
    const std::string type = optimizer["type"];
    train(parse_config(c), dir + "/" + type + "_quiet");
    c["training"]["log_grad_every"] = 1;
    train(parse_config(c), dir + "/" + type + "_logged");
    expect_same_tensors(dir + "/" + type + "_quiet/model.safetensors", dir + "/" + type + "_logged/model.safetensors");
  }
}

TEST(Resume, ARunKilledWhileFinishingIsFinishedByItsResume) {
  // every epoch trained and saved, then killed during calibration: no summary.json, no model
  const std::string data = write_separable_dataset("finishing_data", 400, 60);
  const std::string dir = temp_dir("finishing");
  std::ofstream(dir + "/c.json") << config_for(data, 3).dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/run").code, 0);
  const std::string straight = read_all(dir + "/run/model.safetensors");
  for (const char* f : {"summary.json", "calibration.json", "report.html", "model.safetensors"}) {
    std::filesystem::remove(dir + "/run/" + f);
  }
  const CliRun finish = run_cli("train --resume " + dir + "/run/last.safetensors --json");
  ASSERT_EQ(finish.code, 0) << finish.err;
  const json summary = json::parse(finish.out);
  EXPECT_EQ(summary["epochs"], 3);
  EXPECT_EQ(read_all(dir + "/run/model.safetensors"), straight);
  // once finished, a resume is refused with the way to extend the run
  const CliRun again = run_cli("train --resume " + dir + "/run/last.safetensors");
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("the run is finished (3 of 3 epochs)"), std::string::npos) << again.err;
}
