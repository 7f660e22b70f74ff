// The run report: round axis ticks, the reliability diagram's counts and faded bins, class names
// on the confusion matrix, and the summary of a run that never finished.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "gradflow/config.h"
#include "gradflow/report/report.h"
#include "gradflow/report/svg.h"
#include "test_cli.h"
#include "test_configs.h"
#include "test_files.h"

using namespace gradflow;
using gradflow::testing::temp_dir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

using gradflow::testing::read_all;

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// A trained run of the small two-class MLP (300 training, 40 test images), calibrated as `train`
// calibrates by default.
std::string trained_run(const std::string& name) {
  const std::string data = gradflow::testing::write_separable_dataset(name + "_data", 300, 40);
  const std::string dir = temp_dir(name);
  std::ofstream(dir + "/c.json") << gradflow::testing::separable_config(data, 2).dump();
  const auto r = gradflow::testing::run_cli("--log-level warn train --config " + dir + "/c.json --out " + dir + "/run");
  EXPECT_EQ(r.code, 0) << r.err;
  return dir + "/run";
}

// The non-empty bins, and those with a consistency band, of calibration.json's `list` under `floor`.
std::pair<size_t, size_t> non_empty_and_banded(const json& list, const json& floor) {
  size_t non_empty = 0, banded = 0;
  for (size_t b = 0; b < list.size(); ++b) {
    if (list[b]["count"].get<long long>() == 0) continue;
    ++non_empty;
    if (!floor["bin_accuracy_bands"][b].is_null()) ++banded;
  }
  return {non_empty, banded};
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
  std::vector<svg::Bin> bins{{0.2, 0.4, 0.3, 1.0, 1, {}},       // one sample: the tallest bar, faded
                             {0.4, 0.6, 0.5, 0.45, 40, {}},     // under the 1% of 10 000 = 100: faded
                             {0.8, 1.0, 0.97, 0.99, 9959, {}}};
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
  EXPECT_NE(chart.find("]: 1 sample, accuracy"), std::string::npos) << chart;
  EXPECT_EQ(chart.find("1 samples"), std::string::npos) << chart;
  // no bin faded (equal mass: 3 × 100 samples): no fade in the legend
  const std::vector<svg::Bin> even{{0.2, 0.5, 0.4, 0.4, 100, {}}, {0.5, 0.8, 0.6, 0.6, 100, {}}, {0.8, 1.0, 0.9, 0.9, 100, {}}};
  const std::string mass = svg::reliability_diagram("equal-mass", even, true);
  EXPECT_EQ(mass.find("faded"), std::string::npos) << mass;
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

TEST(Reliability, ConsistencyBandsAndEqualMassLayout) {
  std::vector<svg::Bin> bins{{0.0, 0.5, 0.4, 0.5, 0, {}},  // empty: marked, no band
                             {0.5, 0.9, 0.7, 0.6, 50, std::make_pair(0.55, 0.85)},
                             {0.9, 1.0, 0.95, 0.97, 50, std::make_pair(0.9, 0.99)}};
  const std::string width = svg::reliability_diagram("equal width", bins);
  EXPECT_EQ(occurrences(width, "class='band'"), 2u) << width;
  EXPECT_NE(width.find("class='band' data-low='0.55' data-high='0.85'"), std::string::npos) << width;
  EXPECT_EQ(occurrences(width, "class='empty'"), 1u);
  EXPECT_NE(width.find(">consistency band: 95% of a calibrated model</text>"), std::string::npos);
  EXPECT_NE(width.find(">perfect calibration</text>"), std::string::npos);
  // equal-mass: two bins of 50 drawn half the width each, the axis in shares, the diagonal a step line
  const std::string mass = svg::reliability_diagram("equal mass", {bins[1], bins[2]}, true);
  EXPECT_NE(mass.find(">share of samples, by confidence</text>"), std::string::npos);
  EXPECT_NE(mass.find(">60%</text>"), std::string::npos) << mass;
  EXPECT_NE(mass.find(">perfect calibration (mean confidence)</text>"), std::string::npos);
  EXPECT_NE(mass.find("<polyline fill='none' points="), std::string::npos);
  EXPECT_EQ(mass.find("nan"), std::string::npos);
  // without bands, no band in the legend
  EXPECT_EQ(svg::reliability_diagram("old", {{0.5, 1.0, 0.8, 0.8, 10, {}}}).find("consistency band"), std::string::npos);
}

TEST(Report, ShowsTheCalibrationEvidence) {
  const std::string run = trained_run("report_evidence");
  const json calibration = json::parse(read_all(run + "/calibration.json"));
  ASSERT_EQ(calibration["method"], "temperature");
  const std::string html = read_all(run + "/report.html");
  // both views, raw and calibrated, with a band per non-empty bin
  EXPECT_EQ(occurrences(html, "equal-width bins</text>"), 1u) << "the raw equal-width diagram";
  EXPECT_EQ(occurrences(html, "equal-mass bins</text>"), 1u) << "the raw equal-mass diagram";
  EXPECT_NE(html.find(", equal-mass</text>"), std::string::npos) << "the calibrated equal-mass diagram";
  size_t bands = 0;
  for (const char* set : {"test_before", "test_after"}) {
    const json& estimators = calibration[set]["estimators"];
    const auto [width_bins, width_banded] = non_empty_and_banded(calibration[set]["bins"], estimators["noise_floor"]);
    const auto [mass_bins, mass_banded] = non_empty_and_banded(estimators["equal_mass_bins"], estimators["equal_mass_noise_floor"]);
    EXPECT_EQ(width_banded, width_bins) << set;
    EXPECT_EQ(mass_banded, mass_bins) << set;
    bands += width_bins + mass_bins;
  }
  EXPECT_GT(bands, 4u);
  EXPECT_EQ(occurrences(html, "class='band'"), bands);
  // every figure with its interval, the paired change with its verdict, the ECE's noise floor
  const double t = calibration["calibrator"]["parameters"]["temperature"];
  char label[64];
  std::snprintf(label, sizeof label, "after temperature scaling (T = %.3g)", t);
  EXPECT_NE(html.find(std::string("<th>raw</th><th>") + label + "</th>"), std::string::npos) << html;
  for (const char* key : {"accuracy", "nll", "brier", "ece", "mce"}) {
    const json& i = calibration["test_after"]["intervals"][key];
    char interval[64];
    std::snprintf(interval, sizeof interval, "[%.4f, %.4f]", i[0].get<double>(), i[1].get<double>());
    EXPECT_NE(html.find(interval), std::string::npos) << key;
    std::string verdict = calibration["changes"][key]["verdict"];
    EXPECT_NE(html.find("<td class='verdict'>" + svg::escape(verdict) + "</td>"), std::string::npos) << verdict;
  }
  EXPECT_NE(html.find("ECE of a calibrated model (noise floor"), std::string::npos);
  char floor[64];
  const json& noise = calibration["test_before"]["estimators"]["noise_floor"];
  std::snprintf(floor, sizeof floor, "%.4f<br><span class='interval'>[%.4f, %.4f]", noise["mean"].get<double>(),
                noise["lower"].get<double>(), noise["upper"].get<double>());
  EXPECT_NE(html.find(floor), std::string::npos) << floor;
  EXPECT_EQ(html.find("before T"), std::string::npos);
  // the equal-mass diagrams' captions name the equal-mass ECE
  EXPECT_NE(html.find("equal-mass ECE 0."), std::string::npos);

  // vector scaling, stored by calibrate: the columns and the diagrams name it, not a temperature
  const auto r = gradflow::testing::run_cli("--log-level warn calibrate --checkpoint " + run +
                                            "/model.safetensors --method vector --bootstrap 100");
  ASSERT_EQ(r.code, 0) << r.err;
  // summary.json follows calibration.json: it no longer describes the temperature
  const json rewritten = json::parse(read_all(run + "/calibration.json"));
  const json summary = json::parse(read_all(run + "/summary.json"));
  EXPECT_EQ(summary["calibration_method"], "vector");
  EXPECT_TRUE(summary["temperature"].is_null()) << summary["temperature"];
  EXPECT_EQ(summary["test_ece_after"], rewritten["test_after"]["ece"]);
  EXPECT_EQ(summary["test_nll_change"], rewritten["changes"]["nll"]);
  const std::string vector_html = read_all(run + "/report.html");
  EXPECT_NE(vector_html.find("<th>raw</th><th>after vector scaling</th>"), std::string::npos) << vector_html;
  EXPECT_NE(vector_html.find(">after vector scaling</text>"), std::string::npos);
  EXPECT_NE(vector_html.find("vector scaling: softmax(w ⊙ z + b), w = "), std::string::npos);
  EXPECT_EQ(vector_html.find("temperature scaling (T ="), std::string::npos);
  EXPECT_EQ(vector_html.find("after T"), std::string::npos);
}

TEST(Report, AnOlderCalibrationJsonStillRenders) {
  // calibration.json as written before the estimators: figures, 2 bins, T's fit, no intervals
  const std::string dir = temp_dir("report_old_calibration");
  std::ofstream(dir + "/config.json") << R"({"name": "old", "model": {"input": 4, "layers": []}})";
  std::ofstream(dir + "/metrics.jsonl")
      << R"({"epoch":1,"lr":0.1,"seconds":1.5,"train_accuracy":0.5,"train_loss":0.9,"validation_accuracy":0.6,"validation_loss":0.8})"
      << "\n";
  std::ofstream(dir + "/summary.json") << R"({"test_accuracy": 0.9, "test_loss": 0.3, "train_seconds": 1.5})";
  const std::string bins = R"([{"lower": 0.5, "upper": 0.75, "count": 0, "confidence": 0, "accuracy": 0},
                               {"lower": 0.75, "upper": 1.0, "count": 40, "confidence": 0.9, "accuracy": 0.875}])";
  std::ofstream(dir + "/calibration.json")
      << R"({"fit": {"temperature": 1.25, "bound": null}, "raw_temperature": 1,
             "test_before": {"accuracy": 0.875, "nll": 0.41, "ece": 0.025, "mce": 0.025, "brier": 0.2, "bins": )"
      << bins << R"(}, "test_after": {"accuracy": 0.875, "nll": 0.39, "ece": 0.0125, "mce": 0.0125, "brier": 0.19, "bins": )"
      << bins << R"(}, "confusion": [[20, 3], [2, 15]]})";
  const std::string html = read_all(write_report(dir));
  EXPECT_NE(html.find("<th>before T</th><th>after T</th>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>ECE (15 bins)</td><td>0.0250</td><td>0.0125</td>"), std::string::npos);
  EXPECT_NE(html.find("reliability after T = 1.250"), std::string::npos);
  EXPECT_EQ(html.find("class='band'"), std::string::npos);
  EXPECT_EQ(html.find("equal-mass"), std::string::npos);
  EXPECT_EQ(html.find("0.0000"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
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
