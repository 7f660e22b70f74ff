// libFuzzer target: the IDX reader on arbitrary bytes. Bad input must end in InputError.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gradflow/data/idx.h"
#include "gradflow/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const gradflow::IdxArray array = gradflow::parse_idx(bytes, "fuzz");
    size_t count = 1;
    for (int64_t d : array.dims) count *= static_cast<size_t>(d);
    if (count != array.data.size()) __builtin_trap();  // a parsed file must be self-consistent
  } catch (const gradflow::InputError&) {
  }
  return 0;
}
