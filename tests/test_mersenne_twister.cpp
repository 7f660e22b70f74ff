// MersenneTwister64 against std::mt19937_64: the same numbers, discards and text states.
#include "gradflow/kernels/mersenne_twister.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <vector>

namespace gradflow {
namespace {

TEST(MersenneTwister64, DrawsStdMt19937_64sNumbers) {
  for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(5489), ~uint64_t(0), uint64_t(0x0123456789abcdef)}) {
    std::mt19937_64 reference(seed);
    MersenneTwister64 g(seed);
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(g(), reference()) << "seed " << seed << ", number " << i;
  }
  std::mt19937_64 reference;
  MersenneTwister64 g;
  EXPECT_EQ(g(), reference()) << "the default seed";
}

TEST(MersenneTwister64, FillIsTheSameAsOneAtATime) {
  std::mt19937_64 reference(42);
  MersenneTwister64 g(42);
  // blocks shorter than, equal to and longer than the 312-word state, from every offset
  for (size_t n : {size_t(1), size_t(7), size_t(311), size_t(312), size_t(313), size_t(1000), size_t(0), size_t(3)}) {
    std::vector<uint64_t> block(n);
    g.fill(block.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(block[i], reference()) << "block of " << n << ", number " << i;
  }
  EXPECT_EQ(g(), reference());
}

TEST(MersenneTwister64, DiscardSkipsWhatStdSkips) {
  std::mt19937_64 reference(7);
  MersenneTwister64 g(7);
  for (unsigned long long n : {0ULL, 1ULL, 311ULL, 312ULL, 313ULL, 5000ULL}) {
    reference.discard(n);
    g.discard(n);
    ASSERT_EQ(g(), reference()) << "after discarding " << n;
  }
}

TEST(MersenneTwister64, TextStateIsStdsBothWays) {
  std::mt19937_64 reference(3);
  MersenneTwister64 g(3);
  for (int i = 0; i < 500; ++i) {
    reference();
    g();
  }
  std::ostringstream ours, theirs;
  ours << g;
  theirs << reference;
  EXPECT_EQ(ours.str(), theirs.str());

  // a state std wrote loads into MersenneTwister64 and goes on with std's numbers, and back
  MersenneTwister64 loaded;
  std::istringstream(theirs.str()) >> loaded;
  EXPECT_EQ(loaded, g);
  std::mt19937_64 reloaded;
  std::istringstream(ours.str()) >> reloaded;
  for (int i = 0; i < 400; ++i) ASSERT_EQ(loaded(), reloaded()) << i;
}

TEST(MersenneTwister64, RefusesABrokenState) {
  MersenneTwister64 g(5), before(5);
  std::istringstream truncated("1 2 3");
  truncated >> g;
  EXPECT_TRUE(truncated.fail());
  EXPECT_EQ(g, before) << "a failed read leaves the generator as it was";

  std::ostringstream text;
  text << g;
  std::string state = text.str();
  state = state.substr(0, state.rfind(' ')) + " 313";  // an index past the state
  std::istringstream past(state);
  past >> g;
  EXPECT_TRUE(past.fail());
  EXPECT_EQ(g, before);
}

}  // namespace
}  // namespace gradflow
