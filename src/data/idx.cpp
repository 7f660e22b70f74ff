#include "gradflow/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "gradflow/errors.h"

namespace gradflow {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The uncompressed size the gzip trailer records (modulo 2^32): a hint for one allocation.
size_t gzip_size_hint(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() < 18) return 0;
  in.seekg(-4, std::ios::end);
  unsigned char t[4] = {};
  in.read(reinterpret_cast<char*>(t), 4);
  if (!in) return 0;
  const size_t size = size_t(t[0]) | size_t(t[1]) << 8 | size_t(t[2]) << 16 | size_t(t[3]) << 24;
  return std::min<size_t>(size, size_t(1) << 30);
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw InputError(path + ": cannot open");
  gzbuffer(file, 1 << 18);
  // decompress straight into the result, grown only if the trailer's hint was short
  std::vector<uint8_t> out(std::max<size_t>(gzip_size_hint(path), 1 << 16));
  size_t size = 0;
  bool direct = false;
  std::string error;
  for (;;) {
    if (size == out.size()) out.resize(out.size() * 2);
    const unsigned want = static_cast<unsigned>(std::min<size_t>(out.size() - size, size_t(1) << 30));
    const int n = gzread(file, out.data() + size, want);
    if (n < 0) {
      int code = 0;
      error = gzerror(file, &code);
      break;
    }
    if (n == 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      if (code != Z_OK) error = message;
      break;
    }
    direct = direct || gzdirect(file) == 1;
    size += static_cast<size_t>(n);
  }
  direct = direct || gzdirect(file) == 1;
  gzclose(file);
  if (!error.empty()) throw InputError(path + ": corrupt gzip data (" + error + ")");
  if (direct && size > 0) throw InputError(path + ": not a gzip file, though its name ends in .gz");
  out.resize(size);
  return out;
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path + ": cannot open");
  const std::streamoff size = in.tellg();
  if (size < 0 || size > (std::streamoff(1) << 32)) throw InputError(path + ": not a readable file of at most 4 GiB");
  std::vector<uint8_t> out(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), size);
  if (!in) throw InputError(path + ": read error");
  return out;
}

}  // namespace
IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& name) {
  if (bytes.empty()) throw InputError(name + ": empty file, expected an IDX file");
  if (bytes.size() < 4) throw InputError(name + ": truncated IDX header (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] == 0 || bytes[3] > 4) {
    char magic[16];
    std::snprintf(magic, sizeof magic, "0x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    throw InputError(name + ": wrong magic number " + magic +
                     ", expected an IDX file of unsigned bytes (0x000008NN, 1 to 4 dimensions)");
  }
  const size_t ndim = bytes[3];
  const size_t header = 4 + 4 * ndim;
  if (bytes.size() < header) throw InputError(name + ": truncated IDX header");
  IdxArray array;
  uint64_t count = 1;
  for (size_t d = 0; d < ndim; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const uint64_t dim = (uint64_t(p[0]) << 24) | (uint64_t(p[1]) << 16) | (uint64_t(p[2]) << 8) | uint64_t(p[3]);
    array.dims.push_back(static_cast<int64_t>(dim));
    count *= dim;  // at most 2^128 in theory; checked against the file size below
    if (count > bytes.size()) count = bytes.size() + 1;
  }
  const uint64_t available = bytes.size() - header;
  if (available < count) {
    throw InputError(name + ": truncated: the header promises " + std::to_string(count) + " bytes of data, the file has " +
                     std::to_string(available));
  }
  if (available > count) {
    throw InputError(name + ": " + std::to_string(available - count) + " unexpected bytes after the data");
  }
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  array.data = std::move(bytes);
  return array;
}

IdxArray read_idx(const std::string& path) {
  return parse_idx(ends_with(path, ".gz") ? read_gzip(path) : read_raw(path), path);
}

}  // namespace gradflow
