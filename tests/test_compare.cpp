// gradflow compare: the config paths that differ between runs, their final figures (an
// unfinished run's from its last epoch), the page with their curves, and a directory that is
// not a run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gradflow/config.h"
#include "gradflow/report/runs.h"
#include "test_cli.h"
#include "test_configs.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
// The words of the line of `text` that starts with `first`, that word included; empty without one.
std::vector<std::string> row_of(const std::string& text, const std::string& first) {
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(first + " ", 0) != 0) continue;
    std::vector<std::string> words;
    std::stringstream in(line);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
  }
  return {};
}
using Words = std::vector<std::string>;
}  // namespace

TEST(CompareLibrary, DifferencesAreTheLeavesThatDifferWithAbsentAsNull) {
  const json a = {{"seed", 1}, {"optimizer", {{"lr", 0.1}, {"type", "sgd"}}}, {"model", {{"layers", {{{"units", 8}}, {{"units", 2}}}}}}};
  json b = a;
  b["optimizer"]["lr"] = 0.05;
  b["model"]["layers"][0]["units"] = 16;
  b["optimizer"]["momentum"] = 0.9;
  const auto d = config_differences({a, b, a});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].path, "/model/layers/0/units");
  EXPECT_EQ(d[0].values, (std::vector<json>{8, 16, 8}));
  EXPECT_EQ(d[1].path, "/optimizer/lr");
  EXPECT_EQ(d[2].path, "/optimizer/momentum");
  EXPECT_EQ(d[2].values, (std::vector<json>{nullptr, 0.9, nullptr}));
  EXPECT_TRUE(config_differences({a, a}).empty());
}

TEST(CompareCli, PrintsTheDifferingPathsFiguresAndWritesTheOverlaidCurves) {
  const std::string data = write_separable_dataset("compare_data", 300, 40);
  const std::string dir = temp_dir("compare");
  std::ofstream(dir + "/c.json") << separable_config(data, 3).dump();
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/slow --set optimizer.lr=0.01").code, 0);
  ASSERT_EQ(run_cli("train --config " + dir + "/c.json --out " + dir + "/fast --set optimizer.lr=0.05 --set seed=9").code, 0);
  // an unfinished run: the fast one without its summary
  fs::create_directories(dir + "/cut");
  for (const char* file : {"config.json", "metrics.jsonl"}) fs::copy_file(dir + "/fast/" + file, dir + "/cut/" + file);

  const CliRun r = run_cli("compare " + dir + "/slow " + dir + "/fast " + dir + "/cut --html " + dir + "/page.html");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("[1] slow\n[2] fast\n[3] cut  (unfinished: figures of its last logged epoch)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("config differences (2 JSON paths):"), std::string::npos) << r.out;
  EXPECT_EQ(row_of(r.out, "/optimizer/lr"), (Words{"/optimizer/lr", "0.01", "0.05", "0.05"})) << r.out;
  EXPECT_EQ(row_of(r.out, "/seed"), (Words{"/seed", "5", "9", "9"})) << r.out;
  EXPECT_EQ(r.out.find("/training/epochs"), std::string::npos) << r.out;  // the same in every run
  const json fast = load_json_file(dir + "/fast/summary.json");
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.2f%%", 100 * fast["test_accuracy"].get<double>());
  EXPECT_NE(r.out.find(accuracy), std::string::npos) << r.out;
  EXPECT_EQ(row_of(r.out, "status"), (Words{"status", "finished", "finished", "unfinished"})) << r.out;
  EXPECT_EQ(row_of(r.out, "test").size(), 5u) << r.out;  // "test accuracy" and three figures
  EXPECT_EQ(row_of(r.out, "test").back(), "–") << "an unfinished run has no test figure\n" << r.out;

  const std::string page = read_all(dir + "/page.html");
  for (const char* part : {"train loss per epoch", "validation loss per epoch", "validation accuracy per epoch",
                           "<code>/optimizer/lr</code>", ">slow</text>", ">fast</text>", ">cut</text>",
                           "unfinished (last logged epoch)"}) {
    EXPECT_NE(page.find(part), std::string::npos) << part;
  }
  EXPECT_EQ(page.find("<script"), std::string::npos);  // self-contained, nothing to run
  size_t polylines = 0;
  for (size_t at = page.find("<polyline"); at != std::string::npos; at = page.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 9u);  // 3 charts × 3 runs

  const CliRun j = run_cli("compare " + dir + "/slow " + dir + "/cut --json --html " + dir + "/p2.html");
  ASSERT_EQ(j.code, 0) << j.err;
  const json out = json::parse(j.out);
  EXPECT_EQ(out["runs"][1]["finished"], false);
  EXPECT_TRUE(out["runs"][1]["test_accuracy"].is_null());
  EXPECT_EQ(out["runs"][1]["epochs"], 3);
  EXPECT_EQ(out["config_differences"].size(), 2u);
  EXPECT_TRUE(fs::exists(dir + "/p2.html"));
}

TEST(CompareCli, ADirectoryThatIsNotARunIsOneLineExitTwo) {
  const std::string dir = temp_dir("compare_not_run");
  fs::create_directories(dir + "/empty");
  for (const std::string& arg : {dir + "/empty", dir + "/missing"}) {
    const CliRun r = run_cli("compare " + arg + " --html " + dir + "/p.html");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("gradflow: error: " + arg + ": not a ", 0), 0u) << r.err;
    EXPECT_FALSE(fs::exists(dir + "/p.html"));
  }
}
