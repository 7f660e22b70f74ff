#include "gradflow/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gradflow/errors.h"
#include "gradflow/progress.h"

namespace gradflow {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The largest IDX file gradflow reads, raw or inflated: 4 GiB.
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 32;

// The header of an IDX file: its size in bytes and the number of data bytes it promises.
struct IdxHeader {
  size_t size = 0;
  std::vector<int64_t> dims;
  long double promised = 1;  // up to 2^128 in theory: exact below 2^64, an estimate above
};

std::string byte_count(long double n) {
  if (n < 1e18L) return std::to_string(static_cast<unsigned long long>(n));
  char text[32];
  std::snprintf(text, sizeof text, "%.3Lg", n);
  return text;
}

// Checks the magic number in `bytes` (at least 4 of them) and, once they hold the whole
// header, reads the dimensions; `size` alone is set before that.
IdxHeader parse_header(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) throw InputError(name + ": empty file, expected an IDX file");
  if (bytes.size() < 4) throw InputError(name + ": truncated IDX header (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] == 0 || bytes[3] > 4) {
    char magic[16];
    std::snprintf(magic, sizeof magic, "0x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    throw InputError(name + ": wrong magic number " + magic +
                     ", expected an IDX file of unsigned bytes (0x000008NN, 1 to 4 dimensions)");
  }
  IdxHeader header;
  header.size = 4 + 4 * size_t(bytes[3]);
  if (bytes.size() < header.size) return header;
  for (size_t d = 0; d < bytes[3]; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const uint64_t dim = (uint64_t(p[0]) << 24) | (uint64_t(p[1]) << 16) | (uint64_t(p[2]) << 8) | uint64_t(p[3]);
    header.dims.push_back(static_cast<int64_t>(dim));
    header.promised *= static_cast<long double>(dim);
  }
  if (header.promised > static_cast<long double>(kMaxIdxBytes)) {
    throw InputError(name + ": the header promises " + byte_count(header.promised) +
                     " bytes of data, more than the 4 GiB gradflow reads");
  }
  return header;
}

// Inflates a gzip file: appends up to `limit` more bytes to `out`; fewer at the end of the data.
class GzipReader {
 public:
  explicit GzipReader(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (file_ == nullptr) throw InputError(path + ": cannot open");
    gzbuffer(file_, 1 << 18);
  }
  ~GzipReader() { gzclose(file_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  void read(std::vector<uint8_t>& out, uint64_t limit, ProgressTask* task = nullptr) {
    // the buffer grows with the data that arrives, never to a size only promised
    const size_t end = out.size() + static_cast<size_t>(limit);
    size_t size = out.size();
    while (size < end) {
      if (size == out.size()) out.resize(std::min(end, std::max<size_t>(2 * size, size + (1 << 16))));
      // 4 MiB at a time, so that progress can be shown while a large file inflates
      const unsigned want = static_cast<unsigned>(std::min<size_t>(out.size() - size, size_t(1) << 22));
      const int n = gzread(file_, out.data() + size, want);
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      if (n < 0 || code != Z_OK) throw InputError(path_ + ": corrupt gzip data (" + message + ")");
      if (gzdirect(file_) == 1 && size + static_cast<size_t>(n) > 0) {
        throw InputError(path_ + ": not a gzip file, though its name ends in .gz");
      }
      if (n == 0) break;
      size += static_cast<size_t>(n);
      if (task != nullptr) task->advance(static_cast<int64_t>(size));
    }
    out.resize(size);
  }

 private:
  std::string path_;
  gzFile file_;
};

// Inflates an IDX file as far as its header promises, plus one byte to notice a longer file:
// a small file that inflates to gigabytes is refused at the first byte past the promise.
std::vector<uint8_t> read_gzip(const std::string& path) {
  GzipReader reader(path);
  std::vector<uint8_t> bytes;
  reader.read(bytes, 4);
  IdxHeader header = parse_header(bytes, path);
  reader.read(bytes, header.size - bytes.size());
  if (bytes.size() < header.size) throw InputError(path + ": truncated IDX header");
  header = parse_header(bytes, path);
  ProgressTask task("inflating " + std::filesystem::path(path).filename().string(),
                    static_cast<int64_t>(header.size + static_cast<uint64_t>(header.promised)), "bytes");
  reader.read(bytes, static_cast<uint64_t>(header.promised) + 1, &task);
  if (bytes.size() > header.size + static_cast<uint64_t>(header.promised)) {
    throw InputError(path + ": inflates to more than the " + byte_count(header.promised) +
                     " bytes of data its header promises");
  }
  return bytes;
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path + ": cannot open");
  const std::streamoff size = in.tellg();
  if (size < 0) throw InputError(path + ": not a readable file");
  if (static_cast<uint64_t>(size) > kMaxIdxBytes + 20) throw InputError(path + ": larger than the 4 GiB gradflow reads");
  std::vector<uint8_t> out(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), size);
  if (!in) throw InputError(path + ": read error");
  return out;
}

}  // namespace
IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& name) {
  const IdxHeader header = parse_header(bytes, name);
  if (bytes.size() < header.size) throw InputError(name + ": truncated IDX header");
  const uint64_t count = static_cast<uint64_t>(header.promised);
  const uint64_t available = bytes.size() - header.size;
  if (available < count) {
    throw InputError(name + ": truncated: the header promises " + std::to_string(count) + " bytes of data, the file has " +
                     std::to_string(available));
  }
  if (available > count) {
    throw InputError(name + ": " + std::to_string(available - count) + " unexpected bytes after the data");
  }
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header.size));
  return IdxArray{header.dims, std::move(bytes)};
}

IdxArray read_idx(const std::string& path) {
  return parse_idx(ends_with(path, ".gz") ? read_gzip(path) : read_raw(path), path);
}

}  // namespace gradflow
