// The command line's options are consistent: --data and --threads wherever data is read or work
// is done, --json everywhere, one name for the finite-difference entries, flags that need another
// are refused without it, and the paths a config file names are relative to that file.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_cli.h"
#include "test_configs.h"
#include "test_files.h"

using namespace gradflow::testing;
using nlohmann::json;

namespace {

json small_config(const std::string& data_dir) {
  json c = separable_config(data_dir, 1, 60);
  c["name"] = "options";
  c["threads"] = 2;
  return c;
}

// A run trained on separable data; returns its directory.
std::string trained_run(const std::string& name) {
  const std::string data = write_separable_dataset(name + "_data", 300, 60);
  const std::string dir = temp_dir(name);
  std::ofstream(dir + "/c.json") << small_config(data).dump();
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run");
  EXPECT_EQ(r.code, 0) << r.err;
  return dir + "/run";
}

}  // namespace

TEST(CliOptions, EveryCommandHasJsonAndTheComputingOnesDataAndThreads) {
  const std::vector<std::string> all{"train", "eval", "step", "gradcheck", "calibrate", "predict", "report",
                                     "layers", "optimizers", "backends", "bench", "sweep", "compare", "completion"};
  const std::vector<std::string> computing{"train", "eval", "step", "gradcheck", "calibrate", "predict", "bench", "sweep"};
  const std::vector<std::string> reading_data{"train", "eval", "step", "gradcheck", "calibrate", "bench", "sweep"};
  for (const auto& command : all) {
    const CliRun help = run_cli(command + " --help");
    ASSERT_EQ(help.code, 0) << command;
    EXPECT_NE(help.out.find("--json"), std::string::npos) << command;
    const bool computes = std::find(computing.begin(), computing.end(), command) != computing.end();
    const bool reads = std::find(reading_data.begin(), reading_data.end(), command) != reading_data.end();
    EXPECT_EQ(help.out.find("--threads N") != std::string::npos, computes) << command << help.out;
    EXPECT_EQ(help.out.find("--data DIR") != std::string::npos, reads) << command << help.out;
  }
  // the command tree as JSON: every command there, with its options
  const json tree = json::parse(run_cli("completion --json").out);
  ASSERT_EQ(tree["commands"].size(), all.size());
  for (const auto& c : tree["commands"]) {
    EXPECT_NE(std::find(all.begin(), all.end(), c["name"].get<std::string>()), all.end()) << c["name"];
  }
  EXPECT_EQ(run_cli("completion").code, 2);
  // one name and default for the finite-difference entries
  for (const std::string command : {"step", "gradcheck"}) {
    const CliRun help = run_cli(command + " --help");
    EXPECT_TRUE(std::regex_search(help.out, std::regex(R"(--entries N[^\n]*=64\s)"))) << command << help.out;
    EXPECT_EQ(help.out.find("--check-entries"), std::string::npos) << command;
  }
}

TEST(CliOptions, FlagsThatNeedAnotherAreRefusedWithoutIt) {
  const std::string data = write_separable_dataset("needs_data", 100, 20);
  const std::string dir = temp_dir("needs");
  std::ofstream(dir + "/c.json") << small_config(data).dump();
  const std::string step = "step --config " + dir + "/c.json ";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"--full", "gradflow: error: step: --full requires --json (gradflow step --help)\n"},
           {"--entries 3", "gradflow: error: step: --entries requires --check (gradflow step --help)\n"},
           {"--tolerance 1e-3", "gradflow: error: step: --tolerance requires --check (gradflow step --help)\n"}}) {
    const CliRun r = run_cli(step + args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err, message) << args;
  }
  const CliRun checked = run_cli(step + "--check --entries 3 --json");
  ASSERT_EQ(checked.code, 0) << checked.err;
  const CliRun gradcheck = run_cli("gradcheck --config " + dir + "/c.json --entries 2 --json");
  ASSERT_EQ(gradcheck.code, 0) << gradcheck.err;
  EXPECT_EQ(run_cli("gradcheck --config " + dir + "/c.json --entries -1").code, 2);
}

TEST(CliOptions, TrainTakesDataAndThreadsOverTheConfig) {
  const std::string data = write_separable_dataset("train_opts_data", 200, 40);
  const std::string dir = temp_dir("train_opts");
  std::ofstream(dir + "/c.json") << small_config("/nowhere").dump();
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --data " + data + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  const json written = json::parse(read_all(dir + "/run/config.json"));
  EXPECT_EQ(written["data"]["dir"], data);
  EXPECT_EQ(written["threads"], 1);
  EXPECT_NE(r.err.find(", 1 threads,"), std::string::npos) << r.err;
}

TEST(CliOptions, EvalWithoutTemperatureShowsOnlyTheRawModel) {
  const std::string run = trained_run("eval_raw");
  const CliRun raw = run_cli("eval --checkpoint " + run + "/model.safetensors --no-temperature --threads 1");
  ASSERT_EQ(raw.code, 0) << raw.err;
  EXPECT_NE(raw.out.find("(raw model)"), std::string::npos) << raw.out;
  EXPECT_EQ(raw.out.find("changes, calibrated"), std::string::npos) << raw.out;
  const json raw_json = json::parse(run_cli("eval --checkpoint " + run + "/model.safetensors --no-temperature --json").out);
  EXPECT_FALSE(raw_json.contains("after"));
  EXPECT_EQ(raw_json["accuracy"], raw_json["before"]["accuracy"]);
  const CliRun both = run_cli("eval --checkpoint " + run + "/model.safetensors");
  EXPECT_NE(both.out.find("changes, calibrated − raw"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("95% basic bootstrap intervals"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("NLL"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("noise floor"), std::string::npos) << both.out;
}

TEST(CliOptions, LayersListsTheHeadAndReportPrintsJson) {
  const json layers = json::parse(run_cli("layers --json").out);
  ASSERT_EQ(layers["heads"].size(), 1u);
  EXPECT_EQ(layers["heads"][0]["type"], "softmax_cross_entropy");
  std::vector<std::string> params;
  for (const auto& p : layers["heads"][0]["params"]) params.push_back(p["name"]);
  EXPECT_EQ(params, (std::vector<std::string>{"temperature", "label_smoothing"}));
  EXPECT_NE(run_cli("layers").out.find("\nheads:\nsoftmax_cross_entropy "), std::string::npos);

  const std::string run = trained_run("report_json");
  const CliRun report = run_cli("report " + run + " --json");
  ASSERT_EQ(report.code, 0) << report.err;
  EXPECT_EQ(json::parse(report.out), (json{{"report", run + "/report.html"}, {"run_dir", run}}));
}

TEST(ConfigPaths, ADirectoryInAConfigIsRelativeToTheConfigFile) {
  // the data beside the config's directory, named "../<data>"; gradflow runs from elsewhere
  const std::string data = write_separable_dataset("relative_data", 200, 40);
  const std::string dir = temp_dir("relative_config");
  const std::string data_name = std::filesystem::path(data).filename().string();
  json c = small_config("../" + data_name);
  c["output"] = {{"dir", "runs"}};
  std::ofstream(dir + "/c.json") << c.dump();
  const CliRun r = run_cli("train --config " + dir + "/c.json --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/runs/options/model.safetensors"));
  EXPECT_EQ(json::parse(read_all(dir + "/runs/options/config.json"))["data"]["dir"], data);

  // a config written for the working directory: "tests" exists here, not beside the config
  c["data"]["dir"] = "tests";
  std::ofstream(dir + "/old.json") << c.dump();
  const CliRun old = run_cli("train --config " + dir + "/old.json");
  EXPECT_EQ(old.code, 2);
  EXPECT_EQ(lines(old.err), 1u) << old.err;
  EXPECT_NE(old.err.find("/data/dir \"tests\" is relative to the config's directory"), std::string::npos) << old.err;
  EXPECT_EQ(old.err.find("fetch-mnist"), std::string::npos) << "suggests downloading data that exists: " << old.err;
}

// --bins, --seed and --index are checked on their text: a seed past int64's range is refused, not
// clamped to its maximum (which would quietly make different seeds one)
TEST(CliOptions, IntegersOutOfRangeAreRefusedNotClamped) {
  for (const std::string command : {"eval", "calibrate"}) {
    for (const std::string option : {"--seed 18446744073709551616", "--seed 9223372036854775808", "--seed -1",
                                     "--seed abc", "--bins 0", "--bins 1001", "--bins 1.5"}) {
      const CliRun r = run_cli(command + " --checkpoint /nowhere.safetensors " + option);
      EXPECT_EQ(r.code, 2) << command << " " << option;
      EXPECT_NE(r.err.find("expected an integer in ["), std::string::npos) << command << " " << option << ": " << r.err;
    }
  }
  // the same check on gradcheck's --seed (unsigned: -1 would wrap) and step's --index
  for (const std::string args : {"gradcheck --config /nowhere.json --seed -1",
                                 "gradcheck --config /nowhere.json --seed 18446744073709551616",
                                 "step --config /nowhere.json --index 99999999999999999999"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_NE(r.err.find("expected an integer in ["), std::string::npos) << args << ": " << r.err;
  }
}
