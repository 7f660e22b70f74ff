#pragma once
// IDX files (the MNIST format), raw or gzip-compressed:
//   bytes 0-1: 0, byte 2: element type (0x08 = unsigned byte), byte 3: number of dimensions
//   then one big-endian uint32 per dimension, then the elements, row-major.
// Every check failure is an InputError naming the file.
#include <cstdint>
#include <string>
#include <vector>

namespace gradflow {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // product(dims) elements
};

// Reads `path`; a name ending in ".gz" is decompressed with zlib.
IdxArray read_idx(const std::string& path);
// Reads raw IDX bytes already in memory; `name` appears in error messages.
IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& name);

}  // namespace gradflow
