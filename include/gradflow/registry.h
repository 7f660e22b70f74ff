#pragma once
// Components registered by name from their own source file — layers, optimizers, data sources —
// each kind in one table like this, kept sorted by name. Registering a name twice is refused: a
// second registration would otherwise silently replace the first (a plugin shadowing "relu").
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradflow {

template <typename Info>
class Registry {
 public:
  // `kind` names the table in messages: "layer type", "optimizer", "data format".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Returns true, so that a registration can initialise a static; std::logic_error for a name
  // already registered.
  bool add(const std::string& name, Info info) {
    if (!items_.emplace(name, std::move(info)).second) {
      throw std::logic_error("gradflow: " + kind_ + " \"" + name + "\" is registered twice");
    }
    return true;
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
  std::string kind_;
  std::map<std::string, Info> items_;
};

}  // namespace gradflow
