#include "gradflow/plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>

#include "gradflow/data/source.h"
#include "gradflow/errors.h"
#include "gradflow/layer_registry.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/registry.h"

namespace gradflow {

namespace {
std::string& plugin_being_loaded() {
  static std::string path;
  return path;
}

std::vector<std::string>& plugins() {
  static std::vector<std::string> loaded;
  return loaded;
}
}  // namespace

const std::string& current_plugin() { return plugin_being_loaded(); }
void set_current_plugin(const std::string& path) { plugin_being_loaded() = path; }

const std::vector<std::string>& loaded_plugins() { return plugins(); }

void check_registrations() {
  LayerRegistry::instance().check();
  OptimizerRegistry::instance().check();
  DataSourceRegistry::instance().check();
}

void load_plugin(const std::string& given) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_regular_file(given, error)) throw InputError(given + ": no such plugin file");
  const std::string path = fs::canonical(given, error).string();
  if (std::find(plugins().begin(), plugins().end(), path) != plugins().end()) return;
  set_current_plugin(path);
  // RTLD_NOW: a symbol the plugin needs and gradflow lacks is reported here, not mid-training
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  set_current_plugin("");
  if (handle == nullptr) {
    const char* reason = ::dlerror();
    throw InputError(given + ": cannot load the plugin (" + std::string(reason ? reason : "unknown reason") +
                     "); build it with gradflow_add_plugin() against this gradflow");
  }
  plugins().push_back(path);  // never unloaded: its layers live as long as the process
  check_registrations();
}

}  // namespace gradflow
