#pragma once
// MT19937-64, number for number the sequence of std::mt19937_64 (same seeding, same discard, the
// same text state as libstdc++'s << and >>, so states saved from one load into the other), made
// to draw many numbers at once: fill() regenerates the 312-word state and tempers the words in
// loops the compiler vectorises, where std::mt19937_64's operator() is one number and a branch
// per call. Dropout draws its masks with it (hundreds of thousands of numbers a step).
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace gradflow {

class MersenneTwister64 {
 public:
  using result_type = uint64_t;
  static constexpr size_t kStateSize = 312;

  MersenneTwister64() { seed(5489u); }  // std::mt19937_64's default seed
  explicit MersenneTwister64(uint64_t value) { seed(value); }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type(0); }

  void seed(uint64_t value);
  result_type operator()() {
    if (next_ >= kStateSize) twist();
    return temper(state_[next_++]);
  }
  // The next n numbers into out[0, n): what n calls of operator() return.
  void fill(uint64_t* out, size_t n);
  void discard(unsigned long long n);

  bool operator==(const MersenneTwister64& other) const;
  bool operator!=(const MersenneTwister64& other) const { return !(*this == other); }
  // "x0 x1 … x311 p", as libstdc++ writes and reads std::mt19937_64
  friend std::ostream& operator<<(std::ostream& out, const MersenneTwister64& g);
  friend std::istream& operator>>(std::istream& in, MersenneTwister64& g);

  // The text state as a string (a layer's random_state()), and back; a state that does not read
  // is an InputError naming `owner` (e.g. "dropout").
  std::string state() const;
  void set_state(const std::string& text, const std::string& owner);

 private:
  static uint64_t temper(uint64_t z) {
    z ^= (z >> 29) & 0x5555555555555555ULL;
    z ^= (z << 17) & 0x71d67fffeda60000ULL;
    z ^= (z << 37) & 0xfff7eee000000000ULL;
    return z ^ (z >> 43);
  }
  void twist();  // the next 312 words of state; next_ = 0

  uint64_t state_[kStateSize];
  size_t next_ = kStateSize;  // the state word the next number is tempered from
};

}  // namespace gradflow
