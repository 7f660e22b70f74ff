#include "gradflow/sweep/grid.h"

#include <cstdio>
#include <map>
#include <set>

#include "gradflow/errors.h"
#include "gradflow/files.h"
#include "gradflow/json_check.h"

namespace gradflow::sweep {

using nlohmann::json;

namespace {

// "/optimizer.lr/1": a JSON pointer into the grid file, its keys escaped as RFC 6901 says
std::string pointer(const std::string& key) {
  std::string escaped;
  for (char c : key) escaped += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  return "/" + escaped;
}

bool is_index(const std::string& part) {
  return !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

}  // namespace

json Grid::to_json() const {
  json j = json::object();
  for (const auto& axis : axes) j[axis.path] = axis.values;
  return j;
}

Grid parse_grid(const std::string& text, const std::string& where) {
  // ordered: the axes keep the file's order, which is the order of the names' parts
  nlohmann::ordered_json source;
  try {
    source = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(where + ": not valid JSON (" + std::string(e.what()).substr(std::string(e.what()).find("] ") + 2) + ")");
  }
  if (!source.is_object()) {
    throw InputError(where + ": at /: expected an object mapping --set paths to lists of values, e.g. "
                             "{\"optimizer.lr\": [0.05, 0.1]}");
  }
  if (source.empty()) throw InputError(where + ": at /: the grid names no --set path");
  Grid grid;
  for (const auto& [path, values] : source.items()) {
    const std::string at = where + ": at " + pointer(path) + ": ";
    for (const auto& part : split_path(path)) {
      if (part.empty()) throw InputError(at + "\"" + path + "\" is not a --set path (an empty key)");
    }
    if (path.find('=') != std::string::npos) throw InputError(at + "\"" + path + "\" is not a --set path (it holds '=')");
    if (!values.is_array()) {
      throw InputError(at + "expected a list of values, got " + json_check::show(json::parse(values.dump())));
    }
    if (values.empty()) throw InputError(at + "an empty list: the sweep would have no runs");
    Axis axis{path, {}};
    std::set<std::string> seen;
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string dumped = values[i].dump();
      if (!seen.insert(dumped).second) {
        throw InputError(where + ": at " + pointer(path) + "/" + std::to_string(i) + ": " + dumped + " is listed twice");
      }
      axis.values.push_back(json::parse(dumped));
    }
    grid.axes.push_back(std::move(axis));
  }
  return grid;
}

Grid load_grid(const std::string& path) { return parse_grid(read_file(path, "the grid"), path); }

std::vector<std::string> axis_labels(const Grid& grid) {
  std::vector<std::string> labels;
  std::map<std::string, int> uses;
  for (const auto& axis : grid.axes) {
    const auto parts = split_path(axis.path);
    std::string label = axis.path;
    for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
      if (!is_index(*part)) {
        label = *part;
        break;
      }
    }
    labels.push_back(label);
    ++uses[label];
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (uses[labels[i]] > 1) labels[i] = grid.axes[i].path;
  }
  return labels;
}

std::string value_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

std::string file_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string("._=,+-").find(c) != std::string::npos;
    out += keep ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  constexpr size_t kLongest = 120;
  if (out.size() > kLongest) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a of the whole name keeps cut names apart
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    char hash[20];
    std::snprintf(hash, sizeof hash, "-%016llx", static_cast<unsigned long long>(h));
    out = out.substr(0, kLongest - 17) + hash;
  }
  return out;
}

std::vector<RunSpec> expand(const Grid& grid) {
  const auto labels = axis_labels(grid);
  std::vector<RunSpec> runs;
  if (grid.axes.empty()) return runs;
  std::vector<size_t> at(grid.axes.size(), 0);
  std::map<std::string, int> names;
  while (true) {
    RunSpec run;
    std::string name;
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      const json& value = grid.axes[a].values[at[a]];
      run.values.push_back(value);
      run.assignments.push_back(grid.axes[a].path + "=" + value.dump());  // JSON: a string stays a string
      name += (a == 0 ? "" : ",") + labels[a] + "=" + value_text(value);
    }
    run.name = file_safe(name);
    const int count = ++names[run.name];
    if (count > 1) run.name += "_" + std::to_string(count);
    runs.push_back(std::move(run));
    // the next combination: the last axis fastest
    size_t a = grid.axes.size();
    while (a > 0) {
      --a;
      if (++at[a] < grid.axes[a].values.size()) break;
      at[a] = 0;
      if (a == 0) return runs;
    }
  }
}

}  // namespace gradflow::sweep
