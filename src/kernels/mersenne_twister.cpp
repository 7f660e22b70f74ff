#include "gradflow/kernels/mersenne_twister.h"

#include <algorithm>
#include <istream>
#include <ostream>
#include <sstream>

#include "gradflow/errors.h"

namespace gradflow {

namespace {
constexpr size_t kN = MersenneTwister64::kStateSize;
constexpr size_t kM = 156;
constexpr uint64_t kMatrix = 0xb5026f5aa96619e9ULL;
constexpr uint64_t kUpper = ~uint64_t(0) << 31;  // the word's top 33 bits
constexpr uint64_t kLower = ~kUpper;

inline uint64_t mix(uint64_t high, uint64_t low, uint64_t far) {
  const uint64_t y = (high & kUpper) | (low & kLower);
  return far ^ (y >> 1) ^ ((y & 1) != 0 ? kMatrix : 0);
}
}  // namespace

void MersenneTwister64::seed(uint64_t value) {
  state_[0] = value;
  for (size_t i = 1; i < kN; ++i) {
    const uint64_t x = state_[i - 1];
    state_[i] = 6364136223846793005ULL * (x ^ (x >> 62)) + i;
  }
  next_ = kN;
}

void MersenneTwister64::twist() {
  uint64_t* x = state_;
  // Word k reads words k + 1 (not yet rewritten) and k ± 156 (rewritten 156 words earlier in the
  // second loop): no dependence shorter than a vector, so both loops vectorise.
#pragma omp simd
  for (size_t k = 0; k < kN - kM; ++k) x[k] = mix(x[k], x[k + 1], x[k + kM]);
#pragma omp simd
  for (size_t k = kN - kM; k < kN - 1; ++k) x[k] = mix(x[k], x[k + 1], x[k + kM - kN]);
  x[kN - 1] = mix(x[kN - 1], x[0], x[kM - 1]);
  next_ = 0;
}

void MersenneTwister64::fill(uint64_t* out, size_t n) {
  while (n > 0) {
    if (next_ >= kN) twist();
    const size_t take = std::min(n, kN - next_);
    const uint64_t* words = state_ + next_;
#pragma omp simd
    for (size_t i = 0; i < take; ++i) out[i] = temper(words[i]);
    next_ += take;
    out += take;
    n -= take;
  }
}

void MersenneTwister64::discard(unsigned long long n) {
  while (n > kN - next_) {
    n -= kN - next_;
    twist();
  }
  next_ += static_cast<size_t>(n);
}

bool MersenneTwister64::operator==(const MersenneTwister64& other) const {
  return next_ == other.next_ && std::equal(state_, state_ + kN, other.state_);
}

std::ostream& operator<<(std::ostream& out, const MersenneTwister64& g) {
  const auto flags = out.flags(std::ios_base::dec | std::ios_base::fixed | std::ios_base::left);
  const auto fill = out.fill(' ');
  for (uint64_t word : g.state_) out << word << ' ';
  out << g.next_;
  out.flags(flags);
  out.fill(fill);
  return out;
}

std::istream& operator>>(std::istream& in, MersenneTwister64& g) {
  const auto flags = in.flags(std::ios_base::dec | std::ios_base::skipws);
  MersenneTwister64 read;
  for (uint64_t& word : read.state_) in >> word;
  in >> read.next_;
  if (in && read.next_ <= kN) {
    g = read;
  } else {
    in.setstate(std::ios_base::failbit);
  }
  in.flags(flags);
  return in;
}

std::string MersenneTwister64::state() const {
  std::ostringstream out;
  out << *this;
  return out.str();
}

void MersenneTwister64::set_state(const std::string& text, const std::string& owner) {
  std::istringstream in(text);
  in >> *this;
  if (!in) throw InputError(owner + ": invalid random generator state");
}

}  // namespace gradflow
