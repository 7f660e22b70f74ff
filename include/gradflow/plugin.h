#pragma once
// Plugins: shared libraries of layers (or optimizers, data sources) built with the CMake function
// gradflow_add_plugin() and loaded at run time by `--plugin FILE` or a config's "plugins" list.
// Loading one runs its registrations (GRADFLOW_REGISTER_LAYER ...); each layer it registers
// remembers the plugin's path, which checkpoints record so that a model needing it says so.
#include <map>
#include <string>
#include <vector>

namespace gradflow {

// Loads the plugin at `path` once (a second call for the same file does nothing). InputError
// naming the file when it cannot be loaded, or when it registers a name that exists already.
void load_plugin(const std::string& path);

// The absolute paths of the plugins loaded so far, in loading order.
const std::vector<std::string>& loaded_plugins();

// InputError when any registry holds a name registered twice (a program linked against gradflow
// that registers "relu" again): call before the registries are used.
void check_registrations();

}  // namespace gradflow
