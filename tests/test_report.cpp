// The run report: round axis ticks, the reliability diagram's counts and faded bins, class names
// on the confusion matrix, and the summary of a run that never finished.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "gradflow/config.h"
#include "gradflow/report/report.h"
#include "gradflow/report/svg.h"
#include "test_files.h"

using namespace gradflow;
using gradflow::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(NiceTicks, StepsOfOneTwoOrFiveCoveringTheRange) {
  expect_ticks(svg::nice_ticks(0, 0.73), {0, 0.2, 0.4, 0.6, 0.8});
  expect_ticks(svg::nice_ticks(0.7992, 1.0), {0.75, 0.8, 0.85, 0.9, 0.95, 1.0});
  expect_ticks(svg::nice_ticks(0, 0.05226), {0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06});
  expect_ticks(svg::nice_ticks(-3, 17), {-5, 0, 5, 10, 15, 20});
  // the ticks are the round numbers themselves, not sums of a rounded step
  EXPECT_EQ(svg::nice_ticks(0, 1)[3], 0.6);
  EXPECT_EQ(svg::nice_ticks(0, 0.3)[3], 0.3);
}

TEST(NiceTicks, EpochsAndStepsAreIntegers) {
  expect_ticks(svg::nice_ticks(1, 12, 5, true), {0, 2, 4, 6, 8, 10, 12});
  expect_ticks(svg::nice_ticks(1, 3, 5, true), {1, 2, 3});  // never 1.5
  expect_ticks(svg::nice_ticks(1, 1, 5, true), {1, 2});
  for (double t : svg::nice_ticks(43, 5160, 5, true)) EXPECT_EQ(t, std::round(t));
}

TEST(LineChart, EpochAxisHasIntegerLabelsAndAccuracyEndsAtHundredPercent) {
  svg::Series accuracy{"validation", "#000", {1, 2, 3}, {0.52, 0.61, 0.73}};
  svg::ChartOptions options;
  options.integer_x = options.fraction_y = true;
  const std::string chart = svg::line_chart("accuracy", "epoch", {accuracy}, options);
  EXPECT_NE(chart.find(">100%</text>"), std::string::npos) << chart;
  EXPECT_NE(chart.find(">50%</text>"), std::string::npos) << chart;
  EXPECT_EQ(chart.find(">1.5</text>"), std::string::npos);
  for (const char* epoch : {">1</text>", ">2</text>", ">3</text>"}) EXPECT_NE(chart.find(epoch), std::string::npos) << epoch;
  // no tick of a linear axis has more digits than its step needs
  EXPECT_FALSE(std::regex_search(chart, std::regex(">[0-9]+\\.[0-9]{3,}</text>"))) << chart;
  // accuracy 1 throughout: an axis from 90% to 100%, no NaN coordinates
  const std::string perfect =
      svg::line_chart("accuracy", "epoch", {{"train", "#000", {1, 2}, {1.0, 1.0}}}, options);
  EXPECT_NE(perfect.find(">90%</text>"), std::string::npos) << perfect;
  EXPECT_EQ(perfect.find("nan"), std::string::npos) << perfect;
}

TEST(Reliability, BinsShowTheirCountsAndFewSamplesFade) {
  std::vector<svg::Bin> bins{{0.2, 0.4, 0.3, 1.0, 1},       // one sample: the tallest bar, faded
                             {0.4, 0.6, 0.5, 0.45, 40},     // under the 1% of 10 000 = 100: faded
                             {0.8, 1.0, 0.97, 0.99, 9959}};
  EXPECT_EQ(svg::few_samples(bins), 100);
  const std::string chart = svg::reliability_diagram("reliability", bins);
  EXPECT_NE(chart.find("data-count='1' opacity='0.15'"), std::string::npos) << chart;
  EXPECT_NE(chart.find("data-count='40' opacity='0.40'"), std::string::npos) << chart;
  EXPECT_NE(chart.find("data-count='9959' opacity='1.00'"), std::string::npos) << chart;
  for (const char* count : {">1</text>", ">40</text>", ">9959</text>"}) {
    EXPECT_NE(chart.find(count), std::string::npos) << count;
  }
  // the legend names every colour drawn: the bar, both gaps, the diagonal and the fade
  for (const char* name : {"accuracy", "over-confident gap", "under-confident gap", "perfect calibration",
                           "faded: fewer than 100 samples"}) {
    EXPECT_NE(chart.find(std::string(">") + name + "</text>"), std::string::npos) << name;
  }
}

TEST(HeatMap, LabelsRowsAndColumnsByClassName) {
  const std::vector<std::vector<long long>> counts{{5, 1}, {0, 7}};
  const std::string chart = svg::heat_map("confusion", "true", "predicted", counts, {"T-shirt/top", "Ankle boot"});
  EXPECT_NE(chart.find(">T-shirt/top</text>"), std::string::npos);
  EXPECT_NE(chart.find(">Ankle boot</text>"), std::string::npos);
  // without names, the indices
  EXPECT_NE(svg::heat_map("confusion", "true", "predicted", counts).find(">1</text>"), std::string::npos);
}

TEST(Report, AnUnfinishedRunSaysNotEvaluated) {
  // a run killed after two epochs: config.json and metrics.jsonl, no summary.json or calibration.json
  const std::string dir = temp_dir("report_unfinished");
  std::ofstream(dir + "/config.json") << R"({"name": "cut", "model": {"input": 4, "layers": []},
                                             "training": {"epochs": 10, "batch_size": 8}})";
  std::ofstream(dir + "/metrics.jsonl")
      << R"({"epoch":1,"lr":0.1,"seconds":1.5,"train_accuracy":0.5,"train_loss":0.9,"validation_accuracy":0.6,"validation_loss":0.8})"
      << "\n"
      << R"({"epoch":2,"lr":0.1,"seconds":1.25,"train_accuracy":0.7,"train_loss":0.6,"validation_accuracy":0.75,"validation_loss":0.5})"
      << "\n";
  const std::string html = read_all(write_report(dir));
  EXPECT_NE(html.find("<td>test accuracy</td><td colspan='2'>not evaluated</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>test loss</td><td colspan='2'>not evaluated</td>"), std::string::npos) << html;
  EXPECT_EQ(html.find("0.0000"), std::string::npos);
  EXPECT_NE(html.find("2.8 s in 2 logged epochs"), std::string::npos);
  EXPECT_NE(html.find("unfinished: no summary.json"), std::string::npos);
  EXPECT_NE(html.find("Not evaluated: the run has no model.safetensors"), std::string::npos);
  EXPECT_EQ(html.find("before T"), std::string::npos);  // no columns for a temperature never fitted
}

TEST(Report, ShippedConfigsLogGradientFlow) {
  int configs = 0;
  for (const auto& entry : fs::directory_iterator(std::string(GRADFLOW_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    ++configs;
    const Config c = parse_config(load_json_file(entry.path().string()));
    EXPECT_GT(c.training.log_grad_every, 0) << entry.path();
  }
  EXPECT_GE(configs, 5);
}
