#pragma once
// Components registered by name from their own source file — layers, optimizers, data sources —
// each kind in one table like this, kept sorted by name. A name registered twice (a plugin
// shadowing "relu") is not replaced: the first registration stays, and the conflict, naming both
// places, is reported by check() — from the plugin loader, or before the table is first used.
// Registration runs while static objects are constructed, where an exception would abort.
#include <map>
#include <string>
#include <vector>

#include "gradflow/errors.h"

namespace gradflow {

// The plugin whose registrations run now: set by load_plugin() around loading it (plugin.h);
// empty for gradflow itself and programs linked against it.
const std::string& current_plugin();
void set_current_plugin(const std::string& path);

template <typename Info>
class Registry {
 public:
  // `kind` names the table in messages: "layer type", "optimizer", "data format".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Returns true when `name` was new, so that a registration can initialise a static. `file`:
  // the source file that registers it (__FILE__), for messages.
  bool add(const std::string& name, Info info, const std::string& file = "") {
    const std::string origin = where(file, current_plugin());
    if (items_.count(name) != 0) {
      conflicts_.push_back(kind_ + " \"" + name + "\" is registered twice: " + origins_[name] + ", and again " + origin);
      return false;
    }
    items_.emplace(name, std::move(info));
    origins_[name] = origin;
    return true;
  }
  // InputError for the first name registered twice.
  void check() const {
    if (!conflicts_.empty()) throw InputError(conflicts_.front() + "; rename one of them");
  }
  const Info* find(const std::string& name) const {
    auto it = items_.find(name);
    return it == items_.end() ? nullptr : &it->second;
  }
  std::vector<const Info*> all() const {  // sorted by name
    std::vector<const Info*> out;
    for (const auto& item : items_) out.push_back(&item.second);
    return out;
  }
  std::vector<std::string> names() const {  // sorted
    std::vector<std::string> out;
    for (const auto& item : items_) out.push_back(item.first);
    return out;
  }

 private:
  static std::string where(const std::string& file, const std::string& plugin) {
    std::string text = file.empty() ? "by a program linked against gradflow" : "in " + file;
    return plugin.empty() ? text : text + " of the plugin " + plugin;
  }

  std::string kind_;
  std::map<std::string, Info> items_;
  std::map<std::string, std::string> origins_;  // "in src/layers/relu.cpp", "in swish.cpp of the plugin …"
  std::vector<std::string> conflicts_;
};

}  // namespace gradflow
