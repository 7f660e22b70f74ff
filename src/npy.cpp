#include "gradflow/npy.h"

#include "gradflow/files.h"

namespace gradflow {

void write_npy(const std::string& path, const Matrix& matrix) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(matrix.rows()) + ", " +
                       std::to_string(matrix.cols()) + "), }";
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(matrix.data()), static_cast<size_t>(matrix.size()) * sizeof(float));
  write_file_atomic(path, out);
}

}  // namespace gradflow
