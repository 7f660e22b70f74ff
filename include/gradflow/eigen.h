#pragma once
// Eigen, included once for all of gradflow. GCC 12 reports "'__Y' (may be) used uninitialized"
// inside its own AVX-512 intrinsics when they are inlined into Eigen's packet code under
// -march=native (GCC bug 105593, fixed in GCC 13): a false positive in third-party code, silenced
// for those headers only, so that gradflow's own code keeps both warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
