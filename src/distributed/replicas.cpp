#include "gradflow/distributed/replicas.h"

#include <cstring>
#include <string>

#include "gradflow/errors.h"

namespace gradflow {

namespace {

// Mixes 32-bit words into a 64-bit hash (multiply-xorshift over each word, then the position):
// any single changed bit changes the result.
uint64_t mix(uint64_t hash, const float* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t word = 0;
    std::memcpy(&word, values + i, sizeof word);
    hash ^= word + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
  }
  return hash;
}

}  // namespace

uint64_t model_checksum(Sequential<float>& model) {
  const auto block = model.parameter_block();
  uint64_t hash = mix(0x84222325cbf29ce4ULL, block.data(), block.size());
  for (const auto& buffer : model.buffers()) hash = mix(hash, buffer.value, buffer.size());
  return hash;
}

void check_replicas(Sequential<float>& model, Communicator& ranks, int64_t step) {
  const uint64_t hash = model_checksum(model);
  // as two 32-bit halves, exact in doubles; the maxima of h and of −h give each half's range
  const double high = static_cast<double>(hash >> 32), low = static_cast<double>(hash & 0xffffffffULL);
  double range[4] = {high, low, -high, -low};
  ranks.max(range, 4);
  if (range[0] == -range[2] && range[1] == -range[3]) return;
  throw DivergenceError("training.check_replicas: the " + std::to_string(ranks.size()) +
                        " ranks hold different weights after step " + std::to_string(step) +
                        " (their checksums of every parameter and buffer differ); the ranks must run the same "
                        "build on the same data");
}

}  // namespace gradflow
