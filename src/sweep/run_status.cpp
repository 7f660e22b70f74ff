#include "gradflow/sweep/run_status.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gradflow/config.h"
#include "gradflow/files.h"

namespace gradflow::sweep {

namespace fs = std::filesystem;

const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::pending: return "pending";
    case RunStatus::interrupted: return "interrupted";
    case RunStatus::finished: return "finished";
    case RunStatus::failed: return "failed";
  }
  return "?";
}

RunStatus detect_status(const std::string& run_dir) {
  const fs::path dir(run_dir);
  if (fs::exists(dir / "summary.json")) return RunStatus::finished;
  if (fs::exists(dir / kFailureFile)) return RunStatus::failed;
  if (fs::exists(dir / "last.safetensors")) return RunStatus::interrupted;
  return RunStatus::pending;
}

void record_failure(const std::string& run_dir, int exit_code, int signal) {
  nlohmann::json record = signal != 0 ? nlohmann::json{{"signal", signal}} : nlohmann::json{{"exit_code", exit_code}};
  write_file_atomic((fs::path(run_dir) / kFailureFile).string(), record.dump() + "\n");
}

int recorded_failure(const std::string& run_dir) {
  const fs::path path = fs::path(run_dir) / kFailureFile;
  if (!fs::exists(path)) return 0;
  const nlohmann::json record = load_json_file(path.string());
  if (record.contains("signal")) return 128 + record.value("signal", 0);
  return record.value("exit_code", 1);
}

void clear_failure(const std::string& run_dir) { fs::remove(fs::path(run_dir) / kFailureFile); }

}  // namespace gradflow::sweep
