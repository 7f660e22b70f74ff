#pragma once
// Where step and gradcheck get their model: a checkpoint, or a fresh seeded model from a config.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/model.h"

namespace gradflow::cli {

struct ModelSource {
  std::string checkpoint;              // either this ...
  std::string config;                  // ... or this
  std::vector<std::string> overrides;  // --set, applied to the config
  std::string data;                    // --data, replaces the config's data.dir
  int threads = -1;                    // --threads, replaces the config's threads when >= 0
};

struct SourcedModel {
  Sequential<float> model;
  Config config;  // the config the model came with (data, optimizer), overrides applied
};

// Adds --checkpoint, --config, --set, --data and --threads to a subcommand.
void add_model_source_options(CLI::App& command, ModelSource& source);

// Throws InputError when neither or both of checkpoint and config are given.
SourcedModel load_model(const ModelSource& source);

// The data a checkpoint was trained on (its stored config, or the defaults), with `data_dir`
// replacing the directory when not empty.
DataOptions data_of(const LoadedCheckpoint& checkpoint, const std::string& data_dir);

// Computes the dense layers' products from now on as the checkpoint's model was trained: with its
// config's product backend, and in --precision when given, else its config's precision (fp32
// without one; fp32 with a warning when it is bf16 and this build has no oneDNN). In bf16, logs
// what runs them. Returns the precision the model was trained in.
std::string use_products_of(const LoadedCheckpoint& checkpoint, const std::string& precision_option);

// The threads for a command on a checkpoint: --threads when given (>= 0), else its config's.
int threads_of(const LoadedCheckpoint& checkpoint, int threads_option);

}  // namespace gradflow::cli
