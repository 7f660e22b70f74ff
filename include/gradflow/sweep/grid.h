#pragma once
// A sweep's grid: a JSON object mapping `--set` paths to lists of values, expanded into the
// cartesian product of those lists, one run per combination, each with a readable name.
//   {"optimizer.lr": [0.05, 0.1], "model.layers.0.units": [256, 512]}
//   -> lr=0.05,units=256  lr=0.05,units=512  lr=0.1,units=256  lr=0.1,units=512
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gradflow::sweep {

struct Axis {
  std::string path;                   // a --set path: "optimizer.lr"
  std::vector<nlohmann::json> values;  // in the order the grid lists them
};

struct Grid {
  std::vector<Axis> axes;  // in the order of the grid file
  nlohmann::json to_json() const;  // {"path": [values...], ...} (keys sorted, as JSON compares)
};

// One combination of the grid.
struct RunSpec {
  std::string name;                         // "lr=0.05,units=256": readable, stable, a safe file name
  std::vector<nlohmann::json> values;       // one per axis
  std::vector<std::string> assignments;     // "optimizer.lr=0.05": what train --set is given
};

// Reads a grid from JSON text; InputError "<where>: at <JSON path>: <why>" when it is not an
// object of non-empty lists keyed by well-formed --set paths.
Grid parse_grid(const std::string& text, const std::string& where);
Grid load_grid(const std::string& path);

// The name each axis has in run names: the last key of its path that is not an array index
// ("units" for model.layers.0.units), or the whole path where two axes would share it.
std::vector<std::string> axis_labels(const Grid& grid);

// How a value reads in a run name: numbers and booleans as JSON writes them, strings without quotes.
std::string value_text(const nlohmann::json& value);

// `text` with every character other than letters, digits and ._=,+- replaced by '_', so it is
// one safe file name; a name longer than 120 characters is cut and ends in a hash of the whole.
std::string file_safe(const std::string& text);

// The cartesian product, the last axis varying fastest. Names are unique: a name that two
// combinations would share (values equal once made file-safe) ends in "_2", "_3", ...
std::vector<RunSpec> expand(const Grid& grid);

}  // namespace gradflow::sweep
