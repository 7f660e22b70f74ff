#include "gradflow/data/idx.h"

#include <zlib.h>

#include <fstream>
#include <iterator>

#include "gradflow/errors.h"

namespace gradflow {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw InputError(path + ": cannot open");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  bool direct = false;
  std::string error;
  for (;;) {
    const int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
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
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  direct = direct || gzdirect(file) == 1;
  gzclose(file);
  if (!error.empty()) throw InputError(path + ": corrupt gzip data (" + error + ")");
  if (direct && !out.empty()) throw InputError(path + ": not a gzip file, though its name ends in .gz");
  return out;
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::vector<uint8_t> out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path + ": read error");
  return out;
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& name) {
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
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

IdxArray read_idx(const std::string& path) {
  return parse_idx(ends_with(path, ".gz") ? read_gzip(path) : read_raw(path), path);
}

}  // namespace gradflow
