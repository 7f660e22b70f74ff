#include "gradflow/train/run_directory.h"

#include <filesystem>
#include <fstream>

#include "gradflow/files.h"

namespace gradflow {

namespace fs = std::filesystem;

namespace {
// Keeps the lines of a .jsonl log whose `key` is below `limit` (a resumed run rewrites the rest).
void truncate_log(const std::string& path, const char* key, int64_t limit) {
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value(key, limit) < limit) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}
}  // namespace

RunDirectory::RunDirectory(std::string dir) : dir_(std::move(dir)) {}

std::string RunDirectory::file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

void RunDirectory::prepare(const nlohmann::json& resolved_config, const TrainPosition* resumed) {
  fs::create_directories(dir_);
  write_file_atomic(file("config.json"), resolved_config.dump(2) + "\n");
  if (resumed != nullptr) {
    truncate_log(metrics(), "epoch", resumed->epoch);
    truncate_log(gradients(), "step", resumed->step);
  } else {
    write_file_atomic(metrics(), "");
    fs::remove(gradients());
  }
  for (const char* stale : {"summary.json", "calibration.json", "report.html"}) fs::remove(file(stale));
}

void RunDirectory::append_metrics(const nlohmann::json& record) const { append_line(metrics(), record.dump()); }

void RunDirectory::append_gradients(const nlohmann::json& record) const { append_line(gradients(), record.dump()); }

}  // namespace gradflow
