#include "gradflow/sweep/plan.h"

#include <filesystem>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"

namespace gradflow::sweep {

using nlohmann::json;
namespace fs = std::filesystem;

std::string SweepPlan::run_dir(const RunSpec& run) const { return (fs::path(dir) / run.name).string(); }

std::string SweepPlan::record_path() const { return (fs::path(dir) / "sweep.json").string(); }

json SweepPlan::to_json() const {
  json list = json::array();
  for (const auto& run : runs) list.push_back({{"name", run.name}, {"set", run.assignments}});
  return {{"config_file", config_file}, {"config", base_config}, {"grid", grid.to_json()}, {"runs", list}};
}

std::vector<std::string> SweepPlan::run_assignments(const RunSpec& run) const {
  std::vector<std::string> sets = run.assignments;
  sets.push_back("name=" + json(run.name).dump());
  return sets;
}

std::string default_sweep_name(const std::string& config_name, const std::string& grid_file) {
  return file_safe(config_name + "-" + fs::path(grid_file).stem().string());
}

namespace {
// "model.layers.0.units" -> "/model/layers/0/units", to match a ConfigError's path
std::string as_pointer(const std::string& set_path) {
  std::string pointer = "/" + set_path;
  for (char& c : pointer) c = c == '.' ? '/' : c;
  return pointer;
}
}  // namespace

SweepPlan make_plan(const std::string& config_file, const std::vector<std::string>& overrides,
                    const std::string& grid_file, const std::string& name) {
  SweepPlan plan;
  plan.config_file = config_file;
  plan.overrides = overrides;
  plan.base_config = load_config_json(config_file, overrides);
  const Config base = parse_config(plan.base_config);
  plan.grid_file = grid_file;
  plan.grid = load_grid(grid_file);
  plan.runs = expand(plan.grid);
  plan.name = name.empty() ? default_sweep_name(base.name, grid_file) : name;
  if (file_safe(plan.name) != plan.name) {
    throw InputError("--name " + plan.name + ": use letters, digits and ._=,+- only (it names a directory)");
  }
  plan.dir = display_path((fs::path(base.output_dir) / plan.name).string());

  for (const auto& run : plan.runs) {
    std::vector<std::string> sets = overrides;
    for (const auto& assignment : plan.run_assignments(run)) sets.push_back(assignment);
    try {
      parse_config(load_config_json(config_file, sets));
    } catch (const InputError& e) {
      // name the grid entry the refused value came from, when the error's path is one of them
      std::string entry;
      if (const auto* config_error = dynamic_cast<const ConfigError*>(&e)) {
        for (size_t a = 0; a < plan.grid.axes.size(); ++a) {
          const std::string pointer = as_pointer(plan.grid.axes[a].path);
          const std::string& at = config_error->path();
          // the value itself, inside it (/model/layers/0/units/x), or the path to it (/model/layers/7)
          if (at.compare(0, pointer.size(), pointer) == 0 || pointer.compare(0, at.size(), at) == 0) {
            entry = " (at /" + plan.grid.axes[a].path + ": " + run.values[a].dump() + ")";
          }
        }
      }
      throw InputError(grid_file + ": run " + run.name + entry + ": " + e.what());
    }
  }
  return plan;
}

void check_same_sweep(const SweepPlan& plan) {
  const std::string path = plan.record_path();
  if (!fs::exists(path)) return;
  const json earlier = load_json_file(path);
  const json now = plan.to_json();
  for (const char* key : {"config", "grid"}) {
    const json before = earlier.contains(key) ? earlier.at(key) : json();
    if (before == now.at(key)) continue;
    const json patch = json::diff(before, now.at(key));
    const std::string at = patch.empty() ? "/" : patch[0].value("path", std::string("/"));
    throw InputError(path + ": this sweep was started with another " + std::string(key) + " (at /" + key + at +
                     "); start it again as it was, retrain every run with --force, or name a new sweep with --name NAME");
  }
}

void write_record(const SweepPlan& plan) {
  fs::create_directories(plan.dir);
  write_file_atomic(plan.record_path(), plan.to_json().dump(2) + "\n");
}

}  // namespace gradflow::sweep
