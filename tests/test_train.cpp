// End to end: training on a separable synthetic dataset, the run directory, determinism, the
// command line (JSON output, exit codes), and a real-MNIST smoke run when the data is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sys/wait.h>

#include <filesystem>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/train.h"
#include "test_cli.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
json synthetic_config(const std::string& data_dir) {
  return json{{"name", "synthetic"},
              {"seed", 3},
              {"threads", 1},
              {"data", {{"dir", data_dir}, {"validation", 200}}},
              {"model",
               {{"input", 64},
                {"layers", {{{"type", "dense"}, {"units", 16}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}},
              {"optimizer", {{"lr", 0.05}, {"momentum", 0.9}}},
              {"training", {{"epochs", 3}, {"batch_size", 32}}}};
}

}  // namespace

TEST(Train, LearnsSeparableSyntheticData) {
  const std::string data = write_separable_dataset("train_sep", 2000, 500, 8, true);
  const std::string run_dir = temp_dir("train_sep_run");
  const TrainSummary summary = train(parse_config(synthetic_config(data)), run_dir);
  EXPECT_GE(summary.test.accuracy, 0.99);
  EXPECT_EQ(summary.test.count, 500);
  EXPECT_GE(summary.last_epoch.validation_accuracy, 0.99);

  for (const char* f : {"config.json", "metrics.jsonl", "model.safetensors", "summary.json"}) {
    EXPECT_TRUE(fs::exists(run_dir + "/" + f)) << f;
  }
  std::ifstream metrics(run_dir + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    const json m = json::parse(line);
    EXPECT_EQ(m["epoch"], ++lines);
    EXPECT_TRUE(m.contains("validation_accuracy") && m.contains("lr") && m.contains("samples_per_second"));
  }
  EXPECT_EQ(lines, 3);
  const json resolved = json::parse(read_all(run_dir + "/config.json"));
  EXPECT_EQ(resolved["training"]["epochs"], 3);
  EXPECT_EQ(resolved["schedule"]["type"], "constant");
  EXPECT_EQ(json::parse(read_all(run_dir + "/summary.json"))["test_accuracy"], summary.test.accuracy);

  LoadedCheckpoint loaded = load_checkpoint(run_dir + "/model.safetensors");
  EXPECT_EQ(loaded.config, resolved);
  const Dataset test = load_split(parse_config(resolved).data, Split::Test);
  EXPECT_DOUBLE_EQ(evaluate(loaded.model, test).accuracy, summary.test.accuracy);
}

TEST(Train, SameSeedGivesIdenticalCheckpoint) {
  const std::string data = write_separable_dataset("train_det", 600, 100);
  const Config config = parse_config(synthetic_config(data));
  const std::string a = temp_dir("det_a"), b = temp_dir("det_b");
  train(config, a);
  train(config, b);
  EXPECT_EQ(read_all(a + "/model.safetensors"), read_all(b + "/model.safetensors"));
}

TEST(Train, RejectsModelInputThatDoesNotMatchTheData) {
  const std::string data = write_separable_dataset("train_mismatch", 300, 50);
  json config = synthetic_config(data);
  config["model"]["input"] = 784;
  try {
    train(parse_config(config), temp_dir("mismatch_run"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/input");
  }
}

TEST(Cli, TrainAndEvalPrintOneJsonObject) {
  const std::string data = write_separable_dataset("cli_data", 600, 100);
  const std::string dir = temp_dir("cli_run");
  std::ofstream(dir + "/c.json") << synthetic_config(data).dump();
  const CliRun trained = run_cli("train --config " + dir + "/c.json --set training.epochs=2 --out " + dir + "/run --json");
  ASSERT_EQ(trained.code, 0) << trained.err;
  const json summary = json::parse(trained.out);  // throws unless stdout is exactly one JSON value
  EXPECT_TRUE(summary.is_object());
  EXPECT_EQ(summary["epochs"], 2);
  EXPECT_NE(trained.err.find("epoch 2/2"), std::string::npos) << "logs go to stderr";

  const CliRun evaluated = run_cli("eval --checkpoint " + dir + "/run/model.safetensors --split validation --json");
  ASSERT_EQ(evaluated.code, 0) << evaluated.err;
  const json result = json::parse(evaluated.out);
  EXPECT_EQ(result["split"], "validation");
  EXPECT_EQ(result["samples"], 200);
  EXPECT_GE(result["accuracy"].get<double>(), 0.9);

  const CliRun quiet = run_cli("--log-level off eval --checkpoint " + dir + "/run/model.safetensors --json");
  EXPECT_EQ(quiet.code, 0);
  EXPECT_EQ(quiet.err, "");
}

// training.test false: a tuning run never evaluates the test split, and its summary says so.
TEST(Cli, TrainingTestFalseLeavesTheTestSplitUnevaluated) {
  const std::string data = write_separable_dataset("cli_notest", 600, 100);
  const std::string dir = temp_dir("cli_notest_run");
  std::ofstream(dir + "/c.json") << synthetic_config(data).dump();
  const CliRun trained = run_cli("train --config " + dir + "/c.json --set training.test=false --out " + dir + "/run");
  ASSERT_EQ(trained.code, 0) << trained.err;
  EXPECT_EQ(trained.out.find("test accuracy"), std::string::npos) << trained.out;
  EXPECT_NE(trained.out.find("test split not evaluated (training.test is false); validation accuracy"), std::string::npos)
      << trained.out;
  EXPECT_EQ(trained.err.find("test loss"), std::string::npos) << trained.err;
  EXPECT_NE(trained.err.find("test split not evaluated"), std::string::npos) << trained.err;
  const json summary = json::parse(read_all(dir + "/run/summary.json"));
  for (const char* key : {"test_accuracy", "test_loss", "test_samples", "test_ece_after", "test_nll_before"}) {
    EXPECT_FALSE(summary.contains(key)) << key;
  }
  EXPECT_EQ(summary["test"], "not evaluated (training.test is false)");
  EXPECT_GE(summary["validation_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(json::parse(read_all(dir + "/run/config.json"))["training"]["test"], false);
  EXPECT_NE(read_all(dir + "/run/report.html").find("not evaluated"), std::string::npos);

  // the default evaluates it, as before
  const CliRun tested = run_cli("train --config " + dir + "/c.json --out " + dir + "/run2 --json");
  ASSERT_EQ(tested.code, 0) << tested.err;
  const json with_test = json::parse(tested.out);
  EXPECT_EQ(with_test["test_samples"], 100);
  EXPECT_TRUE(with_test["test_accuracy"].is_number());
  EXPECT_FALSE(with_test.contains("test"));
  const CliRun refused = run_cli("train --config " + dir + "/c.json --set training.test=1 --out " + dir + "/run3");
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("/training/test"), std::string::npos) << refused.err;
}

TEST(Cli, BadInputExitsWithCodeTwoAndOneLine) {
  const std::string dir = temp_dir("cli_bad");
  std::ofstream(dir + "/c.json") << synthetic_config(dir + "/nowhere").dump();
  CliRun r = run_cli("train --config " + dir + "/c.json --set optimizer.lr=fast");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gradflow: error: config error at /optimizer/lr: expected a number > 0, got \"fast\"\n");
  EXPECT_EQ(r.out, "");

  r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing data file " + dir + "/nowhere/train-images-idx3-ubyte"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/run/model.safetensors"));

  r = run_cli("eval --checkpoint " + dir + "/c.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(dir + "/c.json: invalid safetensors checkpoint"), std::string::npos) << r.err;

  r = run_cli("train");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("give --config FILE or --resume CHECKPOINT"), std::string::npos) << r.err;

  r = run_cli("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--set"), std::string::npos);
}

TEST(MnistSmoke, SmallConfigOneEpoch) {
  const std::string data = std::string(GRADFLOW_SOURCE_DIR) + "/datasets/mnist";
  if (!fs::exists(data + "/train-images-idx3-ubyte") && !fs::exists(data + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "no MNIST in " << data << " (scripts/fetch-mnist.sh fetches it)";
  }
  json raw = load_json_file(std::string(GRADFLOW_SOURCE_DIR) + "/configs/mnist_small.json");
  apply_override(raw, "training.epochs=1");
  apply_override(raw, "data.dir=" + data);
  const TrainSummary summary = train(parse_config(raw), temp_dir("mnist_smoke"));
  EXPECT_GE(summary.test.accuracy, 0.95);
  EXPECT_EQ(summary.test.count, 10000);
}

TEST(Train, LogsGradientFlowEveryNSteps) {
  const std::string data = write_separable_dataset("train_grads", 500, 50);
  json config = synthetic_config(data);  // 300 training samples, batch 32: 10 steps per epoch
  config["training"]["epochs"] = 2;
  config["training"]["log_grad_every"] = 4;
  const std::string run_dir = temp_dir("grads_run");
  train(parse_config(config), run_dir);
  std::ifstream in(run_dir + "/grads.jsonl");
  std::string line;
  std::vector<int64_t> steps;
  while (std::getline(in, line)) {
    const json record = json::parse(line);
    steps.push_back(record["step"]);
    ASSERT_EQ(record["layers"].size(), 3u);
    const json& dense = record["layers"][0];
    EXPECT_GT(dense["weight_grad_norm"].get<double>(), 0.0);
    EXPECT_GT(dense["weight_update_ratio"].get<double>(), 0.0);
    EXPECT_GT(dense["delta_norm"].get<double>(), 0.0);
    const double dead = record["layers"][1]["dead_fraction"];
    EXPECT_GE(dead, 0.0);
    EXPECT_LE(dead, 1.0);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 4, 8, 12, 16}));
}

TEST(Cli, CalibrateEvalPredictAndReport) {
  const std::string data = write_separable_dataset("cli_cal_data", 800, 200);
  const std::string dir = temp_dir("cli_cal");
  std::ofstream(dir + "/c.json") << synthetic_config(data).dump();
  CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_TRUE(summary.contains("temperature"));
  EXPECT_TRUE(summary.contains("test_ece_before") && summary.contains("test_ece_after"));
  for (const char* f : {"calibration.json", "report.html"}) EXPECT_TRUE(fs::exists(dir + "/run/" + f)) << f;
  const std::string html = read_all(dir + "/run/report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("raw: 15 equal-width bins"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace

  // calibrate rewrites the checkpoint with the temperature in its metadata
  const std::string ckpt = dir + "/run/model.safetensors";
  r = run_cli("calibrate --checkpoint " + ckpt + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const double t = json::parse(r.out)["fit"]["temperature"];
  EXPECT_NEAR(std::stod(load_checkpoint(ckpt).metadata.at("gradflow.temperature")), t, 1e-12);

  r = run_cli("eval --checkpoint " + ckpt + " --json --save-logits " + dir + "/logits.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  const json eval = json::parse(r.out);
  EXPECT_DOUBLE_EQ(eval["temperature"], t);
  for (const char* key : {"accuracy", "nll", "brier", "ece", "mce"}) {
    EXPECT_TRUE(eval["before"].contains(key) && eval["after"].contains(key)) << key;
  }
  EXPECT_EQ(eval["before"]["accuracy"], eval["after"]["accuracy"]);
  EXPECT_EQ(read_all(dir + "/logits.npy").size() % 4, 0u);
  r = run_cli("eval --checkpoint " + ckpt + " --json --no-temperature");
  EXPECT_DOUBLE_EQ(json::parse(r.out)["temperature"], 1.0);

  // predict on the IDX test images and on a picture (PGM) of one of them, drawn dark on light
  r = run_cli("predict --checkpoint " + ckpt + " --json " + data + "/t10k-images-idx3-ubyte");
  ASSERT_EQ(r.code, 0) << r.err;
  const json predictions = json::parse(r.out)["predictions"];
  EXPECT_EQ(predictions.size(), 200u);
  const Dataset test = load_split(parse_config(synthetic_config(data)).data, Split::Test);
  int right = 0;
  for (size_t i = 0; i < predictions.size(); ++i) right += predictions[i]["top"][0]["class"] == test.labels[static_cast<Eigen::Index>(i)];
  EXPECT_GE(right, 195);
  {
    std::ofstream pgm(dir + "/digit.pgm", std::ios::binary);
    pgm << "P5\n8 8\n255\n";
    for (int i = 0; i < 64; ++i) pgm.put(static_cast<char>(255 - static_cast<int>(test.images(0, i) * 255.0f)));
  }
  r = run_cli("predict --checkpoint " + ckpt + " --json " + dir + "/digit.pgm");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["predictions"][0]["top"][0]["class"], test.labels[0]);
  EXPECT_EQ(json::parse(r.out)["predictions"][0]["top"][0]["name"], std::to_string(test.labels[0]));

  r = run_cli("report " + dir + "/run");
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_cli("report " + dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("metrics.jsonl: missing"), std::string::npos) << r.err;
}

TEST(Cli, CalibrationCarriesIntervalsEstimatorsAndEveryMethod) {
  const std::string data = write_separable_dataset("cli_cal_methods", 800, 200);
  const std::string dir = temp_dir("cli_cal_methods_run");
  json config = synthetic_config(data);
  config["calibration"] = {{"bootstrap", 200}};
  std::ofstream(dir + "/c.json") << config.dump();
  CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["calibration_method"], "temperature");
  EXPECT_EQ(summary["test_nll_after_interval"].size(), 2u);
  EXPECT_TRUE(summary["test_nll_change"].contains("verdict"));
  EXPECT_EQ(summary["calibration_bootstrap"]["resamples"], 200);

  // calibration.json holds what a reliability diagram needs: counts, equal-mass bins, consistency bands
  const json cal = json::parse(read_all(dir + "/run/calibration.json"));
  for (const char* side : {"test_before", "test_after"}) {
    const json& s = cal[side];
    EXPECT_EQ(s["bins"].size(), 15u) << side;
    EXPECT_TRUE(s["bins"][0].contains("count"));
    EXPECT_EQ(s["estimators"]["equal_mass_bins"].size(), 15u);
    EXPECT_EQ(s["estimators"]["noise_floor"]["bin_accuracy_bands"].size(), 15u);
    for (const char* key : {"ece", "equal_mass_ece", "debiased_ece", "classwise_ece", "signed_ece", "smooth_ece"}) {
      EXPECT_TRUE(s["estimators"].contains(key)) << key;
    }
    const double lower = s["intervals"]["nll"][0], upper = s["intervals"]["nll"][1];
    EXPECT_LE(lower, s["nll"].get<double>());
    EXPECT_GE(upper, s["nll"].get<double>());
  }
  EXPECT_NE(cal["changes"]["ece"]["verdict"].get<std::string>().find("ECE"), std::string::npos);

  // --compare fits all three and leaves the checkpoint alone
  const std::string ckpt = dir + "/run/model.safetensors";
  const auto before = load_checkpoint(ckpt).metadata;
  r = run_cli("calibrate --checkpoint " + ckpt + " --compare --bootstrap 100 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json compared = json::parse(r.out);
  ASSERT_EQ(compared["methods"].size(), 3u);
  EXPECT_EQ(compared["methods"][1]["method"], "vector");
  EXPECT_TRUE(compared["methods"][2]["changes"]["nll"].contains("verdict"));
  EXPECT_TRUE(compared["best"].is_string());
  EXPECT_EQ(compared["best_by"], "5-fold cross-validated validation NLL");  // 200 validation samples: 160 per fit
  EXPECT_TRUE(compared["methods"][0]["cross_validated_nll"].is_number());
  EXPECT_EQ(load_checkpoint(ckpt).metadata, before);
  r = run_cli("calibrate --checkpoint " + ckpt + " --compare --bootstrap 100");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("best on validation NLL"), std::string::npos) << r.out;

  // --method stores that calibrator; eval and predict use it
  r = run_cli("calibrate --checkpoint " + ckpt + " --method ensemble_temperature --bootstrap 100 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["method"], "ensemble_temperature");
  const auto stored = load_checkpoint(ckpt).metadata;
  EXPECT_EQ(stored.count("gradflow.temperature"), 0u);
  EXPECT_EQ(json::parse(stored.at("gradflow.calibrator"))["method"], "ensemble_temperature");
  r = run_cli("eval --checkpoint " + ckpt + " --json --bootstrap 100");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["method"], "ensemble_temperature");
  EXPECT_TRUE(json::parse(r.out)["changes"]["brier"].contains("lower"));
  r = run_cli("predict --checkpoint " + ckpt + " --json " + data + "/t10k-images-idx3-ubyte");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["calibrator"]["method"], "ensemble_temperature");

  // a validation split too small to fit on: one line, exit 2
  json small = synthetic_config(data);
  small["data"]["validation"] = 20;
  std::ofstream(dir + "/small.json") << small.dump();
  r = run_cli("train --config " + dir + "/small.json --out " + dir + "/small");
  ASSERT_EQ(r.code, 0) << r.err;  // training skips calibration with a warning
  EXPECT_NE(r.err.find("calibration needs at least 50"), std::string::npos) << r.err;
  r = run_cli("calibrate --checkpoint " + dir + "/small/model.safetensors");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("gradflow: error: calibration needs at least 50 validation samples, the validation split has 20"),
            std::string::npos)
      << r.err;
}

TEST(Cli, BenchReportsThroughputAndTheMatmulReference) {
  const std::string data = write_separable_dataset("cli_bench", 300, 50);
  const std::string dir = temp_dir("cli_bench_cfg");
  std::ofstream(dir + "/c.json") << synthetic_config(data).dump();
  const CliRun r = run_cli("bench --config " + dir + "/c.json --synthetic --epochs 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json b = json::parse(r.out);
  EXPECT_EQ(b["epoch_seconds"].size(), 2u);
  EXPECT_GT(b["samples_per_second"].get<double>(), 0.0);
  EXPECT_GT(b["matmul_gflops"].get<double>(), 0.0);
  EXPECT_GT(b["step_gflops"].get<double>(), 0.0);
  // 64-16-2 at batch 32: forward 2·32·(64·16 + 16·2) FLOPs, backward twice that, less the first
  // layer's input gradient
  EXPECT_NEAR(b["model_gflop_per_step"].get<double>(), 3 * 2 * 32 * (64 * 16 + 16 * 2) / 1e9, 1e-12);
  EXPECT_NEAR(b["executed_gflop_per_step"].get<double>(), (2 * 2 * 32 * 64 * 16 + 3 * 2 * 32 * 16 * 2) / 1e9, 1e-12);
  EXPECT_EQ(b["eval_samples"], 10000);
  EXPECT_FALSE(b.contains("stages"));
}

TEST(Cli, BenchStagesTimeEveryStageOfTheStep) {
  const std::string data = write_separable_dataset("cli_bench_stages", 300, 50);
  const std::string dir = temp_dir("cli_bench_stages_cfg");
  std::ofstream(dir + "/c.json") << synthetic_config(data).dump();
  CliRun r = run_cli("bench --config " + dir + "/c.json --epochs 1 --stages --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json b = json::parse(r.out);
  EXPECT_EQ(b["stage_steps"], 3) << "100 training images hold 3 full batches of 32";
  std::vector<std::string> names;
  double shares = 0;
  for (const json& st : b["stages"]) {
    names.push_back(st["stage"]);
    EXPECT_GT(st["microseconds"].get<double>(), 0.0) << st.dump();
    // the dense layers' FLOPs over their time; nothing for the other stages
    const bool dense = st["stage"].get<std::string>().find("dense") != std::string::npos;
    EXPECT_EQ(st["gflops"].get<double>() > 0, dense) << st.dump();
    shares += st["share"].get<double>();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"gather batch", "0 dense forward", "1 relu forward", "2 dense forward",
                                             "head forward", "head backward", "2 dense backward", "1 relu backward",
                                             "0 dense backward", "sgd update"}));
  EXPECT_NEAR(shares, 1.0, 1e-9);

  r = run_cli("bench --config " + dir + "/c.json --epochs 1 --stages");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("where a step goes (median of 3 steps"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 dense backward"), std::string::npos) << r.out;
}

TEST(Cli, BenchTrainsOnTheDatasetItTimedLoadingFromGz) {
  // raw files: bench times a gzip copy of them and trains on what that load returned; .gz files
  // are timed and used as they are
  for (const bool gz : {false, true}) {
    const std::string data = write_separable_dataset(gz ? "cli_bench_gz" : "cli_bench_raw", 300, 50, 8, gz);
    const std::string dir = temp_dir("cli_bench_data_cfg");
    std::ofstream(dir + "/c.json") << synthetic_config(data).dump();
    CliRun r = run_cli("bench --config " + dir + "/c.json --epochs 1 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const json b = json::parse(r.out);
    EXPECT_EQ(b["train_samples"], 100) << "300 training images less 200 for validation";
    EXPECT_EQ(b["eval_samples"], 50);
    EXPECT_GT(b["load_gz_seconds"].get<double>(), 0.0);

    json wrong = synthetic_config(data);
    wrong["model"]["input"] = 63;
    std::ofstream(dir + "/wrong.json") << wrong.dump();
    r = run_cli("bench --config " + dir + "/wrong.json --epochs 1");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("/model/input"), std::string::npos) << r.err;
  }
}

TEST(Cli, ListingsNameEveryRegisteredComponentWithItsOptions) {
  const CliRun layers = run_cli("layers --json");
  ASSERT_EQ(layers.code, 0) << layers.err;
  std::vector<std::string> types;
  const json layer_list = json::parse(layers.out);
  for (const auto& l : layer_list["layers"]) types.push_back(l["type"]);
  EXPECT_NE(std::find(types.begin(), types.end(), "dense"), types.end());

  const CliRun optimizers = run_cli("optimizers --json");
  ASSERT_EQ(optimizers.code, 0) << optimizers.err;
  std::map<std::string, json> by_type;
  const json optimizer_list = json::parse(optimizers.out);
  for (const auto& o : optimizer_list["optimizers"]) by_type[o["type"]] = o;
  ASSERT_EQ(by_type.size(), 3u);
  for (const char* type : {"sgd", "adam", "adamw"}) ASSERT_TRUE(by_type.count(type)) << type;
  EXPECT_EQ(by_type["adam"]["params"][0]["name"], "lr");
  EXPECT_EQ(by_type["adam"]["params"][0]["default"], 0.001);
  EXPECT_EQ(by_type["adamw"]["params"][4]["name"], "weight_decay");
  EXPECT_EQ(by_type["adamw"]["params"][4]["default"], 0.01);
  for (const char* type : {"sgd", "adam", "adamw"}) {  // every optimizer's, off by default
    EXPECT_EQ(by_type[type]["params"].back()["name"], "max_norm") << type;
    EXPECT_TRUE(by_type[type]["params"].back()["default"].is_null()) << type;
  }

  const CliRun backends = run_cli("backends");
  ASSERT_EQ(backends.code, 0) << backends.err;
  EXPECT_EQ(backends.out.rfind("auto ", 0), 0u) << backends.out;
  EXPECT_NE(backends.out.find("\neigen "), std::string::npos) << backends.out;
}
