// The step explorer's page data: pooling of weight-sized tensors, float-short numbers, the
// script-safe embedding, and the trace fields the page reads (smoothed target, checked entries).
// The page itself runs in a browser in tests/step_page.sh.
#include <gtest/gtest.h>

#include <random>

#include "gradflow/layer_registry.h"
#include "gradflow/optim/sgd.h"
#include "gradflow/report/step_page.h"
#include "gradflow/stepper.h"

using namespace gradflow;
using nlohmann::json;

namespace {

std::vector<float> ramp(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>((i % 7) - 3) * 0.01f;
  return v;
}

json summary(int64_t rows, int64_t cols, std::vector<float> values) {
  return {{"shape", {rows, cols}}, {"norm", 1.0}, {"min", 0.0}, {"mean", 0.0}, {"max", 0.0}, {"values", values}};
}

}  // namespace

TEST(StepPage, PoolsWeightSizedTensorsByLargestMagnitude) {
  const int64_t rows = 600, cols = 300;  // factor (3, 2): 200 × 150 cells
  std::vector<float> big = ramp(rows * cols), before = ramp(rows * cols), after = before;
  big[static_cast<size_t>(301 * cols + 5)] = -9.5f;  // block (100, 2)
  after[static_cast<size_t>(7 * cols + 299)] += 0.25f;  // ΔW's largest, block (2, 149)
  json trace{{"backward", {{{"layer", 0}, {"parameters", {{"0.weight", summary(rows, cols, big)},
                                                           {"0.bias", {{"shape", {rows}}, {"values", ramp(rows)}}}}}}}},
             {"update", {{"parameters", {{{"name", "0.weight"}, {"shape", {rows, cols}}, {"before", before}, {"after", after},
                                          {"state", {{"momentum", summary(rows, cols, big)}}}}}}}}};
  trace["backward"][0]["parameters"]["2.weight"] = summary(10, 20, ramp(200));
  const json page = step_page_trace(trace);

  const json& w = page["backward"][0]["parameters"]["0.weight"];
  EXPECT_FALSE(w.contains("values"));
  EXPECT_EQ(w["shape"], json({rows, cols}));  // the summary keeps the tensor's own shape
  EXPECT_EQ(w["pooled"]["factor"], json({3, 2}));
  EXPECT_EQ(w["pooled"]["shape"], json({200, 150}));
  ASSERT_EQ(w["pooled"]["values"].size(), 200u * 150u);
  EXPECT_EQ(w["pooled"]["values"][100 * 150 + 2].get<float>(), -9.5f);  // signed
  EXPECT_EQ(w["pooled"]["at"][100 * 150 + 2], 301 * cols + 5);
  for (size_t cell = 0; cell < w["pooled"]["at"].size(); ++cell) {  // every cell names an entry of its block
    const int64_t at = w["pooled"]["at"][cell];
    EXPECT_EQ((at / cols) / 3 * 150 + (at % cols) / 2, static_cast<int64_t>(cell));
  }
  // small tensors and vectors are kept whole
  EXPECT_EQ(page["backward"][0]["parameters"]["2.weight"]["values"].size(), 200u);
  EXPECT_EQ(page["backward"][0]["parameters"]["0.bias"]["values"].size(), static_cast<size_t>(rows));
  // the update: ΔW pooled in place of before/after, the state pooled too
  const json& u = page["update"]["parameters"][0];
  EXPECT_FALSE(u.contains("before"));
  EXPECT_FALSE(u.contains("after"));
  EXPECT_EQ(u["change"]["at"][2 * 150 + 149], 7 * cols + 299);
  EXPECT_EQ(u["change"]["values"][2 * 150 + 149].get<float>(), after[7 * cols + 299] - before[7 * cols + 299]);
  EXPECT_TRUE(u["state"]["momentum"].contains("pooled"));
}

TEST(StepPage, NumbersKeepTheirFloatValueInFewerDigits) {
  const float tenth = 0.1f;
  json trace{{"backward", json::array()}, {"update", {{"parameters", json::array()}}}, {"x", tenth}, {"norm", 0.1}};
  const json page = step_page_trace(trace);
  EXPECT_EQ(page["x"].get<float>(), tenth);
  EXPECT_EQ(page["x"].dump(), "0.1");
  EXPECT_EQ(page["norm"].get<double>(), 0.1);  // a double stays a double
}

TEST(StepPage, EmbedsTheTracesScriptSafely) {
  json trace{{"note", "</script><script>alert(1)</script>"}};
  StepPageContext context{28, 28, {"zero", "</script>"}, "gradflow step"};
  const std::string html = step_page_html({trace, trace}, context);
  EXPECT_EQ(html.find("{{TRACE}}"), std::string::npos);
  EXPECT_EQ(html.find("{{CONTEXT}}"), std::string::npos);
  EXPECT_EQ(html.find("</script><script>alert"), std::string::npos);
  const size_t start = html.find("<script type=\"application/json\" id=\"trace\">");
  ASSERT_NE(start, std::string::npos);
  const size_t open = html.find('>', start) + 1, close = html.find("</script>", open);
  std::string embedded = html.substr(open, close - open);
  const json steps = json::parse(embedded);  // "<\/" is a valid JSON escape of "</"
  ASSERT_TRUE(steps.is_array());
  EXPECT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1]["note"], trace["note"]);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(StepPage, TraceRecordsTheSmoothedTargetAndTheCheckedEntries) {
  Sequential<float> model(resolve_model_spec(
      {{"input", 5},
       {"layers", {{{"type", "dense"}, {"units", 6}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 4}}}},
       {"head", {{"type", "softmax_cross_entropy"}, {"label_smoothing", 0.2}}}}));
  std::mt19937_64 rng(3);
  model.initialize(rng);
  std::srand(4);
  const Matrix x = Matrix::Random(2, 5);
  Labels y(2);
  y << 2, 0;
  Sgd sgd(model.parameters(), SgdOptions{});
  StepOptions options;
  options.learning_rate = 0.01;
  options.keep_values = true;
  options.check = GradCheckOptions{};
  const StepTrace t = trace_step(model, sgd, x, y, options);
  const json j = t.to_json(true);
  EXPECT_DOUBLE_EQ(j["label_smoothing"].get<double>(), 0.2);
  // q = 0.8·onehot + 0.2/4; δ = ŷ − q is what the head passes back, times B
  const json& s = j["samples"][0];
  ASSERT_TRUE(s.contains("target"));
  EXPECT_NEAR(s["target"][2].get<double>(), 0.85, 1e-6);
  EXPECT_NEAR(s["target"][1].get<double>(), 0.05, 1e-6);
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(s["delta"][k].get<double>(), s["y_hat"][k].get<double>() - s["target"][k].get<double>(), 1e-6);
    EXPECT_NEAR(s["delta"][k].get<double>(), 2 * j["backward"][0]["delta"]["values"][k].get<double>(), 1e-6);
  }
  // every checked entry: index, analytic, finite difference; the analytic values are the traced gradient's
  const json& entries = j["check"]["entries"]["0.weight"];
  ASSERT_EQ(entries.size(), 30u);  // 6 × 5, all of them
  const json& gradient = j["backward"][2]["parameters"]["0.weight"]["values"];
  for (const auto& e : entries) {
    const auto at = e[0].get<size_t>();
    EXPECT_NEAR(e[1].get<double>(), gradient[at].get<double>(), 1e-5);
    EXPECT_NEAR(e[2].get<double>(), e[1].get<double>(), 1e-6);
  }
  EXPECT_TRUE(j["check"]["training_mode"].get<bool>());
  // without full: no entries
  EXPECT_FALSE(t.to_json(false)["check"].contains("entries"));
}
