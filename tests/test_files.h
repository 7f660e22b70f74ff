#pragma once
// Helpers that craft small data files and temporary directories for the tests.
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace gradflow::testing {

// The directories temp_dir() made, removed when the test process exits; GRADFLOW_KEEP_TEST_FILES=1
// keeps them for a look after a failure. Only the process that made them removes them (not a
// forked death-test child).
class TempDirs {
 public:
  static TempDirs& instance() {
    static TempDirs dirs;
    return dirs;
  }
  void add(const std::filesystem::path& dir) { dirs_.push_back(dir); }
  ~TempDirs() {
    if (::getpid() != owner_ || std::getenv("GRADFLOW_KEEP_TEST_FILES") != nullptr) return;
    std::error_code ignored;
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir, ignored);
  }

 private:
  TempDirs() = default;
  pid_t owner_ = ::getpid();
  std::vector<std::filesystem::path> dirs_;
};

inline std::string temp_dir(const std::string& name) {
  // ctest runs tests in parallel processes: the pid keeps their directories apart
  const auto dir =
      std::filesystem::temp_directory_path() / ("gradflow_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  TempDirs::instance().add(dir);
  return dir.string();
}

inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

inline void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// A dataset directory of the four MNIST files with n_train / n_test images of side x side pixels,
// two classes separable by brightness of the left half vs the right half.
inline std::string write_separable_dataset(const std::string& name, uint32_t n_train, uint32_t n_test,
                                           uint32_t side = 8, bool gz = false) {
  const std::string dir = temp_dir(name);
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  auto make = [&](uint32_t n, const std::string& prefix) {
    std::vector<uint8_t> images, labels;
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t label = static_cast<uint8_t>(next() % 2);
      labels.push_back(label);
      for (uint32_t r = 0; r < side; ++r) {
        for (uint32_t c = 0; c < side; ++c) {
          const bool bright = (c < side / 2) == (label == 0);
          images.push_back(static_cast<uint8_t>((bright ? 120 : 0) + next() % 100));
        }
      }
    }
    const auto img = idx_bytes({n, side, side}, images);
    const auto lab = idx_bytes({n}, labels);
    const std::string ext = gz ? ".gz" : "";
    auto write = gz ? write_gzip : write_bytes;
    write(dir + "/" + prefix + "-images-idx3-ubyte" + ext, img);
    write(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, lab);
  };
  make(n_train, "train");
  make(n_test, "t10k");
  return dir;
}

}  // namespace gradflow::testing
