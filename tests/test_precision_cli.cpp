// "precision" from the command line: train and bench with --set precision=bf16, eval, calibrate
// and predict in the checkpoint's precision or --precision,
// the log naming the units the products ran on, a CPU without bf16 units explained once, and a
// bad value refused with its JSON path.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gradflow/kernels/bfloat16.h"
#include "gradflow/kernels/onednn.h"
#include "test_cli.h"
#include "test_configs.h"
#include "test_files.h"

using namespace gradflow::testing;
using nlohmann::json;

namespace {
std::string write_config(const std::string& name, const std::string& data) {
  json c = separable_config(data, 1, 60);
  c["name"] = name;
  c["threads"] = 2;
  const std::string dir = temp_dir(name);
  std::ofstream(dir + "/c.json") << c.dump();
  return dir;
}
}  // namespace

TEST(PrecisionCli, ABadValueIsRefusedWithItsPath) {
  const std::string dir = write_config("precision_bad", "/nowhere");
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set precision=fp16");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/precision"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bf16"), std::string::npos) << r.err;
}

TEST(PrecisionCli, TrainEvalAndBenchInBf16) {
  if (!gradflow::bf16_products_built()) GTEST_SKIP() << "built without oneDNN";
  const std::string data = write_separable_dataset("precision_data", 300, 60);
  const std::string dir = write_config("precision_train", data);
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set precision=bf16");
  ASSERT_EQ(r.code, 0) << r.err;
  // the log names what the products run on: oneDNN's kernel, or gradflow's emulation
  EXPECT_NE(r.err.find(gradflow::bf16_hardware().describe()), std::string::npos) << r.err;
  const json written = json::parse(read_all(dir + "/run/config.json"));
  EXPECT_EQ(written["precision"], "bf16");
  const json summary = json::parse(read_all(dir + "/run/summary.json"));
  EXPECT_GT(summary["test_accuracy"].get<double>(), 0.9) << "separable data is learnt in bf16";

  // eval: the checkpoint's precision by default, or --precision
  const CliRun e16 = run_cli("eval --checkpoint " + dir + "/run/model.safetensors --json");
  ASSERT_EQ(e16.code, 0) << e16.err;
  EXPECT_NE(e16.err.find("bf16 products"), std::string::npos) << e16.err;
  const CliRun e32 = run_cli("eval --checkpoint " + dir + "/run/model.safetensors --precision fp32 --json");
  ASSERT_EQ(e32.code, 0) << e32.err;
  EXPECT_EQ(e32.err.find("bf16 products"), std::string::npos) << e32.err;
  EXPECT_NEAR(json::parse(e16.out)["accuracy"].get<double>(), json::parse(e32.out)["accuracy"].get<double>(), 0.02);

  // calibrate: the checkpoint's precision by default, so it sees the bf16 logits training
  // calibrated with (the raw model's test NLL is the summary's); in fp32 the logits differ
  const double trained_nll = summary["test_nll_before"].get<double>();
  const CliRun c16 = run_cli("calibrate --checkpoint " + dir + "/run/model.safetensors --bootstrap 0 --json");
  ASSERT_EQ(c16.code, 0) << c16.err;
  EXPECT_NE(c16.err.find("bf16 products"), std::string::npos) << c16.err;
  EXPECT_NEAR(json::parse(c16.out)["test_before"]["nll"].get<double>(), trained_nll, 1e-12);
  const CliRun c32 =
      run_cli("calibrate --checkpoint " + dir + "/run/model.safetensors --bootstrap 0 --precision fp32 --json");
  ASSERT_EQ(c32.code, 0) << c32.err;
  EXPECT_GT(std::abs(json::parse(c32.out)["test_before"]["nll"].get<double>() - trained_nll), 1e-9);
  // predict, likewise; bf16 and fp32 agree on the class of these clear-cut inputs
  const std::string inputs = data + "/t10k-images-idx3-ubyte";
  const CliRun p16 = run_cli("predict --checkpoint " + dir + "/run/model.safetensors --json " + inputs);
  ASSERT_EQ(p16.code, 0) << p16.err;
  EXPECT_NE(p16.err.find("bf16 products"), std::string::npos) << p16.err;
  const CliRun p32 = run_cli("predict --checkpoint " + dir + "/run/model.safetensors --precision fp32 --json " + inputs);
  ASSERT_EQ(p32.code, 0) << p32.err;
  EXPECT_EQ(p32.err.find("bf16 products"), std::string::npos) << p32.err;
  const json predictions16 = json::parse(p16.out)["predictions"], predictions32 = json::parse(p32.out)["predictions"];
  ASSERT_EQ(predictions16.size(), predictions32.size());
  ASSERT_FALSE(predictions16.empty());
  int same = 0;
  for (size_t i = 0; i < predictions16.size(); ++i) same += predictions16[i]["top"][0]["class"] == predictions32[i]["top"][0]["class"];
  EXPECT_GE(same, int(predictions16.size()) - 1);

  // bench --json names the precision, the units and the reference
  const CliRun b = run_cli("bench --config " + dir + "/c.json --synthetic --epochs 1 --set precision=bf16 --json");
  ASSERT_EQ(b.code, 0) << b.err;
  const json bench = json::parse(b.out);
  EXPECT_EQ(bench["precision"], "bf16");
  EXPECT_FALSE(bench["products_run_on"].get<std::string>().empty());
  EXPECT_NE(bench["bf16_products"].get<std::string>().find("oneDNN"), std::string::npos);
  EXPECT_GT(bench["matmul_gflops"].get<double>(), 0);
}

TEST(PrecisionCli, ACpuWithoutBf16UnitsIsExplainedOnce) {
  if (!gradflow::bf16_products_built()) GTEST_SKIP() << "built without oneDNN";
  // oneDNN limited to AVX-512 without its bf16 instructions, as on an older Xeon
  const std::string dir = write_config("precision_emulated", "/nowhere");
  const CliRun b = run_cli("bench --config " + dir + "/c.json --synthetic --epochs 1 --set precision=bf16 --json",
                           "env ONEDNN_MAX_CPU_ISA=AVX512_CORE");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.err.find("this CPU has no bf16 units"), std::string::npos) << b.err;
  EXPECT_EQ(b.err.find("this CPU has no bf16 units"), b.err.rfind("this CPU has no bf16 units")) << "once";
  EXPECT_NE(json::parse(b.out)["products_run_on"].get<std::string>().find("emulated"), std::string::npos);
}
