// A program outside the library that trains a config using its own layer type, "swish",
// registered in swish.cpp. Usage: custom_layer_example CONFIG RUN_DIR [key.path=value ...]
#include <cstdio>
#include <iostream>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/train.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CONFIG RUN_DIR [key.path=value ...]\n", argv[0]);
    return 2;
  }
  try {
    nlohmann::json raw = gradflow::load_json_file(argv[1]);
    for (int i = 3; i < argc; ++i) gradflow::apply_override(raw, argv[i]);
    const gradflow::Config config = gradflow::parse_config(raw);  // "swish" resolves through the registry
    const gradflow::TrainSummary summary = gradflow::train(config, argv[2]);
    std::cout << summary.to_json().dump() << std::endl;
    return 0;
  } catch (const gradflow::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
