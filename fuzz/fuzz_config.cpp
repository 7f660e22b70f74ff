// libFuzzer target: the config reader (JSON text -> validated Config). Bad input must end in
// InputError (ConfigError), and a config that parses must survive its own round trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gradflow/config.h"
#include "gradflow/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return 0;
  try {
    const gradflow::Config config = gradflow::parse_config(json);
    if (gradflow::parse_config(config.to_json()).to_json() != config.to_json()) __builtin_trap();
  } catch (const gradflow::InputError&) {
  }
  return 0;
}
