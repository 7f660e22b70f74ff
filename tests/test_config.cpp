// Config validation: every error names its JSON path; --set overrides; shipped configs parse.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/model.h"
#include "test_files.h"

using namespace gradflow;
using nlohmann::json;

namespace {
json minimal() {
  return json::parse(R"({"model": {"input": 4, "layers": [{"type": "dense", "units": 3}]}})");
}

// Parses `config` after applying `assignment`; returns the error message ("" when it parses).
std::string error_of(json config, const std::string& assignment = "") {
  try {
    if (!assignment.empty()) apply_override(config, assignment);
    parse_config(config);
    return "";
  } catch (const InputError& e) {
    return e.what();
  }
}
}  // namespace

TEST(Config, MinimalConfigGetsDefaults) {
  const Config c = parse_config(minimal());
  EXPECT_EQ(c.name, "run");
  EXPECT_EQ(c.training.batch_size, 128);
  EXPECT_EQ(c.data.validation, 5000);
  EXPECT_EQ(c.data.format, "idx");
  EXPECT_EQ(c.data.classes, 0);  // from the data
  EXPECT_TRUE(c.data.class_names.empty());
  EXPECT_FALSE(c.data.digits.has_value());
  EXPECT_EQ(c.schedule.type, "constant");
  EXPECT_EQ(c.schedule.pct_start, 0.3);  // one_cycle's, torch.optim.lr_scheduler.OneCycleLR's defaults
  EXPECT_EQ(c.schedule.div_factor, 25.0);
  EXPECT_EQ(c.schedule.final_div_factor, 1e4);
  const json resolved = c.to_json();
  EXPECT_EQ(resolved["schedule"]["final_div_factor"], 1e4);
  EXPECT_EQ(resolved["model"]["layers"][0]["init"], "kaiming_uniform");
  EXPECT_EQ(resolved["model"]["head"]["temperature"], 1.0);
  // the resolved config parses to the same config
  EXPECT_EQ(parse_config(resolved).to_json(), resolved);
}

TEST(Config, ErrorsNameTheJsonPath) {
  EXPECT_EQ(error_of(minimal(), "optimizer.lr=fast"),
            "config error at /optimizer/lr: expected a number > 0, got \"fast\"");
  EXPECT_EQ(error_of(minimal(), "optimizer.lr=0"), "config error at /optimizer/lr: expected a number > 0, got 0");
  EXPECT_EQ(error_of(minimal(), "training.batch_size=0"),
            "config error at /training/batch_size: expected an integer in [1, 1e+07], got 0");
  EXPECT_EQ(error_of(minimal(), "training.epochs=0"),
            "config error at /training/epochs: expected an integer in [1, 1e+06], got 0");
  EXPECT_EQ(error_of(minimal(), "training.epochs=2.5"),
            "config error at /training/epochs: expected an integer in [1, 1e+06], got 2.5");
  EXPECT_EQ(error_of(minimal(), "model.layers.0.units=0"),
            "config error at /model/layers/0/units: expected an integer in [1, 1e+07], got 0");
  EXPECT_EQ(error_of(minimal(), "optimizer.speed=1"),
            "config error at /optimizer/speed: unknown key (expected one of: type, lr, max_norm, momentum, nesterov, weight_decay)");
  EXPECT_EQ(error_of(minimal(), "schedule.type=linear"),
            "config error at /schedule/type: expected one of \"constant\", \"step\", \"cosine\", \"one_cycle\", got \"linear\"");
  EXPECT_EQ(error_of(minimal(), "schedule.pct_start=1"),
            "config error at /schedule/pct_start: expected a number in (0, 1), got 1");
  EXPECT_EQ(error_of(minimal(), "schedule.div_factor=0"),
            "config error at /schedule/div_factor: expected a number > 0, got 0");
  EXPECT_EQ(error_of(minimal(), "schedule.final_div_factor=-1"),
            "config error at /schedule/final_div_factor: expected a number > 0, got -1");
  json one_cycle = minimal();
  one_cycle["schedule"] = {{"type", "one_cycle"}, {"warmup_epochs", 1}};
  EXPECT_EQ(error_of(one_cycle),
            "config error at /schedule/warmup_epochs: one_cycle warms up by itself (/schedule/pct_start); set warmup_epochs to 0");
  EXPECT_EQ(error_of(minimal(), "optimizer.nesterov=yes"),
            "config error at /optimizer/nesterov: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of(minimal(), "data=5"), "config error at /data: expected an object, got 5");
  // numbers in range of their type but not of their meaning
  EXPECT_EQ(error_of(minimal(), "model.head.temperature=1e-300"),
            "config error at /model/head/temperature: expected a number in [0.001, 1000], got 1e-300");
  EXPECT_EQ(error_of(minimal(), "model.head.temperature=1e308"),
            "config error at /model/head/temperature: expected a number in [0.001, 1000], got 1e+308");
  EXPECT_EQ(error_of(minimal(), "data.std=1e-300"), "config error at /data/std: expected a number in [1e-06, 1e+06], got 1e-300");
  EXPECT_EQ(error_of(minimal(), "training.epochs=9000000000000000000"),
            "config error at /training/epochs: expected an integer in [1, 1e+06], got 9000000000000000000");
  EXPECT_EQ(error_of(minimal(), "backend=cuda").rfind("config error at /backend: expected one of \"auto\", ", 0), 0u);
  EXPECT_EQ(error_of(json::parse(R"({"seed": 1})")), "config error at /model: missing required value");
  EXPECT_EQ(error_of(json::array()), "config error at /: expected an object, got []");
  EXPECT_EQ(error_of(minimal(), "optimizer.nesterov=true"),
            "config error at /optimizer/nesterov: Nesterov momentum needs /optimizer/momentum > 0");
  EXPECT_EQ(error_of(minimal(), "model.layers.0.units=1"),
            "config error at /model/layers: the last layer must output at least 2 classes, it outputs 1");
}

TEST(Config, OverridesParseJsonElseString) {
  json c = minimal();
  apply_override(c, "name=my run");
  apply_override(c, "training.epochs=3");
  apply_override(c, "model.layers.0.units=7");
  apply_override(c, "data.dir=/tmp/x");
  EXPECT_EQ(c["name"], "my run");
  EXPECT_EQ(c["training"]["epochs"], 3);
  EXPECT_EQ(c["model"]["layers"][0]["units"], 7);
  EXPECT_EQ(parse_config(c).data.dir, "/tmp/x");
  EXPECT_THROW(apply_override(c, "no_equals_sign"), InputError);
  EXPECT_THROW(apply_override(c, "model.layers.5.units=3"), ConfigError);
  EXPECT_THROW(apply_override(c, "model.layers.x.units=3"), ConfigError);
}

TEST(Config, MalformedJsonFileNamesFileAndLine) {
  const std::string dir = gradflow::testing::temp_dir("config_json");
  std::ofstream(dir + "/bad.json") << "{\n  \"name\": \"x\",\n  oops\n}\n";
  try {
    load_json_file(dir + "/bad.json");
    FAIL();
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(dir + "/bad.json: malformed JSON"), std::string::npos) << what;
    EXPECT_NE(what.find("line 3"), std::string::npos) << what;
  }
  EXPECT_THROW(load_json_file(dir + "/missing.json"), InputError);
}

TEST(Config, ShippedConfigsParse) {
  for (const char* name : {"configs/mnist_mlp.json", "configs/mnist_small.json", "configs/mnist_dropout.json",
                           "configs/fashion_mlp.json"}) {
    const Config c = parse_config(load_json_file(std::string(GRADFLOW_SOURCE_DIR) + "/" + name));
    EXPECT_EQ(model_output_size(c.model), 10) << name;
    EXPECT_EQ(c.model["input"], 784) << name;
    EXPECT_EQ(c.data.format, "idx") << name;
  }
}

TEST(ModelSpec, CountsTrainedValuesNotWidthsTowardTheCap) {
  // 784-10000-10: 7.9 M weights, under the 64 Mi cap (the ReLU between adds none)
  const json wide{{"input", 784},
                  {"layers", {{{"type", "dense"}, {"units", 10000}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 10}}}}};
  EXPECT_NO_THROW(resolve_model_spec(wide));
  const json huge{{"input", 784}, {"layers", {{{"type", "dense"}, {"units", 100000}}, {{"type", "dense"}, {"units", 10}}}}};
  try {
    resolve_model_spec(huge);
    FAIL() << "a 78 M-weight layer was accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "config error at /model/layers/0: the model grows past 67108864 weights; gradflow trains small networks");
  }
}

TEST(Config, JsonNestedTooDeepIsRefusedBeforeItCanOverflowTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string dir = gradflow::testing::temp_dir("deep_json");
  std::ofstream(dir + "/deep.json") << "{\"name\": " << deep << "}";
  try {
    load_json_file(dir + "/deep.json");
    FAIL() << "a config nested 100,000 deep was read";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/deep.json: JSON nested deeper than 64 levels");
  }
  json config = json::object();
  try {
    apply_override(config, "seed=" + deep);
    FAIL() << "a --set value nested 100,000 deep was read";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--set seed: JSON nested deeper than 64 levels");
  }
  // 64 levels are fine
  apply_override(config, "seed=" + std::string(63, '[') + std::string(63, ']'));
  EXPECT_TRUE(config["seed"].is_array());
}

// docs/config.md documents every key a config can hold: every key of a resolved config with
// every optional section set is named there in backticks, as `section.key` or, for the options
// a row explains together (`schedule.type`'s `gamma`, ...), as `key`. model and optimizer are
// rows of their own, with their parts listed by `gradflow layers` and `gradflow optimizers`.
TEST(Config, EveryKeyIsInTheConfigReference) {
  std::ifstream file("docs/config.md");
  ASSERT_TRUE(file) << "run from the project's root (ctest does)";
  const std::string doc((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  json config = minimal();
  config["data"]["class_names"] = {"a", "b", "c"};
  config["data"]["digits"] = false;
  config["training"]["ema"] = 0.99;
  config["training"]["adversarial"] = {{"epsilon", 0.1}};
  config["training"]["mixup"] = {{"alpha", 0.2}};
  config["training"]["early_stopping"] = {{"metric", "validation_loss"}};
  json resolved = parse_config(config).to_json();
  // keys a resolved config leaves out when unset: the parser's own list of top-level keys
  config["no_such_key"] = 1;
  const std::string accepted = error_of(config);
  const size_t at = accepted.find("expected one of: ");
  ASSERT_NE(at, std::string::npos) << accepted;
  std::stringstream names(accepted.substr(at + 17, accepted.find(')', at) - at - 17));
  for (std::string name; std::getline(names >> std::ws, name, ',');) {
    if (!resolved.contains(name)) resolved[name] = nullptr;
  }
  std::vector<std::string> missing;
  for (const auto& [key, value] : resolved.items()) {
    const bool section = value.is_object() && key != "model" && key != "optimizer";
    if (!section) {
      // model is its parts' rows (below)
      if (key != "model" && doc.find("`" + key + "`") == std::string::npos) missing.push_back(key);
      continue;
    }
    for (const auto& [child, unused] : value.items()) {
      if (doc.find("`" + key + "." + child + "`") == std::string::npos && doc.find("`" + child + "`") == std::string::npos) {
        missing.push_back(key + "." + child);
      }
    }
  }
  for (const char* part : {"model.input", "model.layers", "model.head", "optimizer.max_norm"}) {
    if (doc.find(std::string("`") + part + "`") == std::string::npos) missing.push_back(part);
  }
  std::string list;
  for (const std::string& key : missing) list += " " + key;
  EXPECT_TRUE(missing.empty()) << "not in docs/config.md:" << list;
}
