#include "gradflow/json_check.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "gradflow/errors.h"

namespace gradflow::json_check {

void throw_too_deep(const std::string& where) {
  throw InputError(where + ": JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
}

std::string join(const std::string& path, const std::string& key) {
  // JSON Pointer escaping: ~ -> ~0, / -> ~1
  std::string escaped;
  for (char c : key) {
    if (c == '~') escaped += "~0";
    else if (c == '/') escaped += "~1";
    else escaped += c;
  }
  return path + "/" + escaped;
}

std::string show(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

namespace {
std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

void expect_object(const json& value, const std::string& path) {
  if (!value.is_object()) throw ConfigError(path, "expected an object, got " + show(value));
}

void reject_unknown_keys(const json& object, const std::string& path, const std::vector<std::string>& known) {
  for (const auto& item : object.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw ConfigError(join(path, item.key()), "unknown key (expected one of: " + list + ")");
    }
  }
}

std::string Range::describe() const {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max) {
    return std::string("in ") + (min_exclusive ? "(" : "[") + format_number(min) + ", " + format_number(max) +
           (max_exclusive ? ")" : "]");
  }
  if (has_min) return (min_exclusive ? "> " : ">= ") + format_number(min);
  if (has_max) return (max_exclusive ? "< " : "<= ") + format_number(max);
  return "";
}

bool Range::contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (min_exclusive ? !(v > min) : !(v >= min)) return false;
  if (max_exclusive ? !(v < max) : !(v <= max)) return false;
  return true;
}

namespace {
const json* lookup(const json& object, const std::string& key, const std::string& path, bool has_fallback) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (!has_fallback) throw ConfigError(join(path, key), "missing required value");
    return nullptr;
  }
  return &*it;
}

std::string expected(const std::string& what, const Range& range) {
  const std::string bounds = range.describe();
  return "expected " + what + (bounds.empty() ? "" : " " + bounds);
}
}  // namespace

double number(const json& object, const std::string& key, const std::string& path, std::optional<double> fallback,
              Range range) {
  const json* v = lookup(object, key, path, fallback.has_value());
  if (v == nullptr) return *fallback;
  if (!v->is_number() || !range.contains(v->get<double>())) {
    throw ConfigError(join(path, key), expected("a number", range) + ", got " + show(*v));
  }
  return v->get<double>();
}

int64_t integer(const json& object, const std::string& key, const std::string& path, std::optional<int64_t> fallback,
                Range range) {
  const json* v = lookup(object, key, path, fallback.has_value());
  if (v == nullptr) return *fallback;
  const bool whole = v->is_number_integer() ||
                     (v->is_number_float() && std::isfinite(v->get<double>()) &&
                      v->get<double>() == std::floor(v->get<double>()) && std::fabs(v->get<double>()) < 9e15);
  if (!whole || !range.contains(v->get<double>())) {
    throw ConfigError(join(path, key), expected("an integer", range) + ", got " + show(*v));
  }
  return v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(v->get<double>());
}

bool boolean(const json& object, const std::string& key, const std::string& path, std::optional<bool> fallback) {
  const json* v = lookup(object, key, path, fallback.has_value());
  if (v == nullptr) return *fallback;
  if (!v->is_boolean()) throw ConfigError(join(path, key), "expected true or false, got " + show(*v));
  return v->get<bool>();
}

std::string string(const json& object, const std::string& key, const std::string& path,
                   std::optional<std::string> fallback, const std::vector<std::string>& choices) {
  const json* v = lookup(object, key, path, fallback.has_value());
  if (v == nullptr) return *fallback;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
  const std::string what = choices.empty() ? "a string" : "one of " + list;
  if (!v->is_string()) throw ConfigError(join(path, key), "expected " + what + ", got " + show(*v));
  const auto s = v->get<std::string>();
  if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end()) {
    throw ConfigError(join(path, key), "expected " + what + ", got " + show(*v));
  }
  return s;
}

}  // namespace gradflow::json_check
