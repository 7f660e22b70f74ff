#pragma once
// What a sweep is: a config file (with the sweep's own --set values), a grid, the runs the grid
// expands to, and the directory they go to, <output.dir>/<sweep name>/<run name>/. Every run's
// config is resolved and validated as `train --set` would before any run starts. sweep.json in
// the sweep directory records the plan, so a sweep started again can tell it is the same one.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/sweep/grid.h"

namespace gradflow::sweep {

struct SweepPlan {
  std::string config_file;
  std::vector<std::string> overrides;  // the sweep's own --set values, applied to every run before the grid's
  nlohmann::json base_config;          // the config file with `overrides` (load_config_json)
  std::string grid_file;
  Grid grid;
  std::vector<RunSpec> runs;
  std::string name;  // the sweep's name, its directory's
  std::string dir;   // <output.dir>/<name>

  std::string run_dir(const RunSpec& run) const;  // dir/<run name>
  std::string record_path() const;                // dir/sweep.json
  // sweep.json: {"config_file", "config" (base_config), "grid", "runs": [{"name", "set"}]}
  nlohmann::json to_json() const;
  // The --set assignments of one run, after `overrides`: the grid's values, then name=<run name>.
  std::vector<std::string> run_assignments(const RunSpec& run) const;
};

// The default sweep name: "<config name>-<grid file stem>" ("mnist_small-lr" for
// configs/mnist_small.json and lr.json), made file-safe.
std::string default_sweep_name(const std::string& config_name, const std::string& grid_file);

// Reads the config and the grid and validates every run's resolved config (load_config_json,
// then parse_config, as train does). InputError naming the grid file, the run, and the JSON path
// in the grid and in the config when a combination is refused. `name` empty: the default name.
SweepPlan make_plan(const std::string& config_file, const std::vector<std::string>& overrides,
                    const std::string& grid_file, const std::string& name);

// When the sweep directory already holds a sweep.json of another config or grid: InputError
// naming the file and the first JSON path that differs, saying how to go on (--force, --name).
void check_same_sweep(const SweepPlan& plan);
void write_record(const SweepPlan& plan);

}  // namespace gradflow::sweep
