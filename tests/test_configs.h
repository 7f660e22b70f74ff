#pragma once
// The config of a small MLP for the two-class 8 × 8 data of write_separable_dataset (test_files.h):
// 64 inputs, 16 hidden units, 2 classes, one thread; tests change what they study. And a check
// that a training option's bad values are refused at the right JSON path.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gradflow/config.h"
#include "gradflow/errors.h"

namespace gradflow::testing {

inline nlohmann::json separable_config(const std::string& data_dir, int epochs, int validation = 100) {
  return nlohmann::json{
      {"name", "separable"},
      {"seed", 5},
      {"threads", 1},
      {"data", {{"dir", data_dir}, {"validation", validation}}},
      {"model",
       {{"input", 64},
        {"layers", {{{"type", "dense"}, {"units", 16}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}},
      {"optimizer", {{"lr", 0.02}, {"momentum", 0.9}}},
      {"training", {{"epochs", epochs}, {"batch_size", 32}}}};
}

// For each (value, path): a config whose training.<option> is `value` is refused with a
// ConfigError at `path`.
inline void expect_training_option_errors(const std::string& option,
                                          const std::vector<std::pair<nlohmann::json, std::string>>& bad) {
  const nlohmann::json model{{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  for (const auto& [value, path] : bad) {
    try {
      parse_config({{"model", model}, {"training", {{option, value}}}});
      ADD_FAILURE() << option << " " << value.dump() << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.path(), path) << value.dump() << ": " << e.what();
    }
  }
}

}  // namespace gradflow::testing
