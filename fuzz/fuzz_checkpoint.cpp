// libFuzzer target: the safetensors checkpoint reader and model loader on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gradflow/checkpoint.h"
#include "gradflow/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    gradflow::load_checkpoint(gradflow::parse_safetensors(bytes, "fuzz"), "fuzz");
  } catch (const gradflow::InputError&) {
  }
  return 0;
}
