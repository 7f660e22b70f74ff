#pragma once
// Layer types are registered by name from their own source file:
//
//   GRADFLOW_REGISTER_LAYER(Dense, "dense", "fully connected: y = x W^T + b",
//       {{"units", LayerParam::Integer, nullptr, {1}, "output features"}});
//
// A config's {"type": ...} is resolved here; the layer's parameters are validated against the
// schema given at registration, with errors naming the JSON path.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "gradflow/errors.h"
#include "gradflow/json_check.h"
#include "gradflow/layer.h"
#include "gradflow/option_schema.h"
#include "gradflow/registry.h"

namespace gradflow {

// A layer's parameters are declared like every registered component's options (option_schema.h).
using LayerParam = OptionSpec;

struct LayerInfo {
  std::string type;
  std::string help;
  std::vector<LayerParam> params;
  // args: the validated spec with defaults filled in; input: features entering the layer
  std::function<std::unique_ptr<Layer<float>>(const nlohmann::json& args, int64_t input)> make_float;
  std::function<std::unique_ptr<Layer<double>>(const nlohmann::json& args, int64_t input)> make_double;
  // features out, from the validated args and the features in (without building the layer)
  std::function<int64_t(const nlohmann::json& args, int64_t input)> output_size;
  // trained values the layer holds (dense: (in + 1)·out), without building it; 0 for a layer that
  // does not say (static parameter_count_for)
  std::function<int64_t(const nlohmann::json& args, int64_t input)> parameter_count;
  // the plugin file that registered the layer; empty for gradflow's own and linked-in layers
  std::string plugin;
};

class LayerRegistry {
 public:
  static LayerRegistry& instance();

  // Returns true for a new type, so registration can initialise a static; a type already
  // registered is kept, the conflict reported by check() (registry.h). `file`: the registering
  // source file. A layer registered while a plugin loads remembers the plugin (LayerInfo::plugin).
  bool add(LayerInfo info, const std::string& file = "");
  // InputError naming both places when a type was registered twice.
  void check() const { layers_.check(); }
  const LayerInfo* find(const std::string& type) const;
  std::vector<const LayerInfo*> all() const;  // sorted by type name

  // Checks `spec` ({"type": ..., params...}) at `path`; returns it with defaults filled in.
  nlohmann::json resolve(const nlohmann::json& spec, const std::string& path) const;

  // The width a resolved spec's layer outputs for `input` features in.
  int64_t output_size(const nlohmann::json& resolved_spec, int64_t input) const;

  template <typename Scalar>
  std::unique_ptr<Layer<Scalar>> create(const nlohmann::json& resolved_spec, int64_t input) const {
    const LayerInfo& info = *find(resolved_spec.at("type").get<std::string>());
    if constexpr (std::is_same_v<Scalar, float>) {
      return info.make_float(resolved_spec, input);
    } else {
      return info.make_double(resolved_spec, input);
    }
  }

 private:
  Registry<LayerInfo> layers_{"layer type"};
};

namespace detail {
// A layer whose width changes defines `static int64_t output_size_for(const json& args, int64_t input)`;
// every other layer keeps the width of its input.
template <typename T, typename = void>
struct HasParameterCountFor : std::false_type {};
template <typename T>
struct HasParameterCountFor<
    T, std::void_t<decltype(T::parameter_count_for(std::declval<const nlohmann::json&>(), int64_t{}))>>
    : std::true_type {};
template <typename T, typename = void>
struct HasOutputSizeFor : std::false_type {};
template <typename T>
struct HasOutputSizeFor<T, std::void_t<decltype(T::output_size_for(std::declval<const nlohmann::json&>(), int64_t{}))>>
    : std::true_type {};
}  // namespace detail

template <template <typename> class L>
LayerInfo make_layer_info(std::string type, std::string help, std::vector<LayerParam> params) {
  LayerInfo info{std::move(type), std::move(help), std::move(params), {}, {}, {}, {}, {}};
  info.parameter_count = [](const nlohmann::json& a, int64_t in) -> int64_t {
    if constexpr (detail::HasParameterCountFor<L<float>>::value) {
      return L<float>::parameter_count_for(a, in);
    } else {
      return 0;
    }
  };
  info.make_float = [](const nlohmann::json& a, int64_t in) { return std::make_unique<L<float>>(a, in); };
  info.make_double = [](const nlohmann::json& a, int64_t in) { return std::make_unique<L<double>>(a, in); };
  info.output_size = [](const nlohmann::json& a, int64_t in) {
    if constexpr (detail::HasOutputSizeFor<L<float>>::value) {
      return L<float>::output_size_for(a, in);
    } else {
      return in;
    }
  };
  return info;
}

}  // namespace gradflow

#define GRADFLOW_REGISTER_LAYER(Class, type_name, help, ...)                         \
  [[maybe_unused]] static const bool gradflow_registered_##Class =                   \
      ::gradflow::LayerRegistry::instance().add(::gradflow::make_layer_info<Class>( \
          type_name, help, std::vector<::gradflow::LayerParam> __VA_ARGS__), __FILE__)
