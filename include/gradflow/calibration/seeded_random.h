#pragma once
// The one random generator of the calibration statistics (bootstrap, noise floor): SplitMix64,
// written here so that a seed gives the same draws on every platform and standard library
// (std::uniform_int_distribution is implementation-defined). Each resample or replicate r gets
// its own stream, SeededRandom(seed, r), so results do not depend on the number of threads.
#include <cstdint>

namespace gradflow {

class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed, uint64_t stream = 0) : state_(seed ^ (stream * 0xD1B54A32D192ED03ull)) {
    next();  // decorrelates neighbouring seeds and streams
  }
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // uniform on [0, 1): the top 53 bits
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // uniform on {0, …, n − 1} by multiply-shift (Lemire); the bias is below n / 2^64
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }

 private:
  uint64_t state_;
};

}  // namespace gradflow
