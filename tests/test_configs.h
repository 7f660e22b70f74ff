#pragma once
// The config of a small MLP for the two-class 8 × 8 data of write_separable_dataset (test_files.h):
// 64 inputs, 16 hidden units, 2 classes, one thread; tests change what they study.
#include <nlohmann/json.hpp>
#include <string>

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

}  // namespace gradflow::testing
