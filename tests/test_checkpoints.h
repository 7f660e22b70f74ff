#pragma once
// Comparing two checkpoint files from a test: bit for bit, or by their largest difference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "gradflow/checkpoint.h"

namespace gradflow::testing {

// Every tensor of two checkpoints, bit for bit.
inline void expect_same_tensors(const std::string& a, const std::string& b) {
  const SafetensorsFile x = read_safetensors(a), y = read_safetensors(b);
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (const auto& [name, tensor] : x.tensors) {
    ASSERT_TRUE(y.tensors.count(name)) << name;
    EXPECT_EQ(tensor.shape, y.tensors.at(name).shape) << name;
    EXPECT_EQ(0, std::memcmp(tensor.values.data(), y.tensors.at(name).values.data(), tensor.values.size() * sizeof(float)))
        << name << " of " << a << " and " << b << " differs";
  }
}

// max |a − b| over every value of two checkpoints of the same model.
inline double largest_difference(const std::string& a, const std::string& b) {
  const SafetensorsFile x = read_safetensors(a), y = read_safetensors(b);
  double largest = 0;
  for (const auto& [name, tensor] : x.tensors) {
    const auto& other = y.tensors.at(name).values;
    for (size_t i = 0; i < tensor.values.size(); ++i) {
      largest = std::max(largest, double(std::abs(tensor.values[i] - other[i])));
    }
  }
  return largest;
}

}  // namespace gradflow::testing
