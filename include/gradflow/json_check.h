#pragma once
// Typed, range-checked reads from JSON objects; every failure is a ConfigError naming the JSON
// path. Shared by the config reader and the layer registry.
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gradflow::json_check {

using nlohmann::json;

// JSON text nested deeper than this is refused while it is read: the code that later walks a
// value (messages, comparisons, destruction) recurses, and 100,000 nested arrays overflow the stack.
inline constexpr int kMaxDepth = 64;
[[noreturn]] void throw_too_deep(const std::string& where);
// json::parse with the nesting limited to kMaxDepth: InputError "<where>: JSON nested deeper than
// 64 levels". Otherwise like json::parse: with `allow_exceptions` false, malformed text gives a
// discarded value. `Text` is anything json::parse reads (a string, a pair of iterators' range).
template <typename Text>
json parse(Text&& text, const std::string& where, bool allow_exceptions = true) {
  return json::parse(
      std::forward<Text>(text),
      [&where](int depth, json::parse_event_t, json&) {
        if (depth > kMaxDepth) throw_too_deep(where);
        return true;
      },
      allow_exceptions);
}
// "/a/b" + "c" -> "/a/b/c"
std::string join(const std::string& path, const std::string& key);
// A short rendering of a value for messages: "fast", 3, [1,2], {...}.
std::string show(const json& value);

void expect_object(const json& value, const std::string& path);
// Throws for the first key of `object` not in `known`.
void reject_unknown_keys(const json& object, const std::string& path, const std::vector<std::string>& known);

struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  bool max_exclusive = false;
  std::string describe() const;  // "> 0", ">= 1", "in [0, 1)"
  bool contains(double v) const;
};

inline Range above(double min) { return {min, std::numeric_limits<double>::infinity(), true, false}; }
inline Range at_least(double min) { return {min, std::numeric_limits<double>::infinity(), false, false}; }

// Each reads object[key]; when absent, returns `fallback` or throws "missing" if it has none.
double number(const json& object, const std::string& key, const std::string& path,
              std::optional<double> fallback, Range range = {});
int64_t integer(const json& object, const std::string& key, const std::string& path,
                std::optional<int64_t> fallback, Range range = {});
bool boolean(const json& object, const std::string& key, const std::string& path, std::optional<bool> fallback);
std::string string(const json& object, const std::string& key, const std::string& path,
                   std::optional<std::string> fallback, const std::vector<std::string>& choices = {});

}  // namespace gradflow::json_check
