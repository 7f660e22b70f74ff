#include <gtest/gtest.h>
#include "gradflow/layers/dense.h"
TEST(Dense, Builds) { gradflow::Dense<float> d(3, 2); EXPECT_EQ(d.output_size(), 2); }
