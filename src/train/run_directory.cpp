#include "gradflow/train/run_directory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "gradflow/errors.h"
#include "gradflow/files.h"

namespace gradflow {

namespace fs = std::filesystem;

namespace {
// FNV-1a of the bytes: recognises the config.json gradflow itself wrote last
std::string fingerprint(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

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

RunDirectory::~RunDirectory() {
  if (lock_ >= 0) ::close(lock_);  // closing releases the lock
}

namespace {
// What a finished or interrupted run leaves; config.json alone (a run that stopped before its
// first epoch) is not a result.
const char* const kResults[] = {"metrics.jsonl", "grads.jsonl", "last.safetensors", "best.safetensors", "model.safetensors",
                                "summary.json",  "calibration.json", "report.html"};
}  // namespace

void RunDirectory::claim(bool resuming, bool replace) {
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) throw InputError(dir_ + ": cannot create the run directory: " + error.message());
  const std::string path = file(".gradflow.lock");
  lock_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_ < 0) throw InputError(path + ": cannot open the run directory's lock: " + std::strerror(errno));
  if (::flock(lock_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    const ssize_t n = ::pread(lock_, pid, sizeof pid - 1, 0);
    ::close(lock_);
    lock_ = -1;
    throw InputError(dir_ + ": another gradflow process is training into this run directory (PID " +
                     (n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("unknown")) +
                     "); wait for it, or train into another directory (--out DIR)");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_, 0) != 0 || ::pwrite(lock_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    throw InputError(path + ": cannot write the run directory's lock: " + std::strerror(errno));
  }
  remove_stale_temporaries();
  if (resuming) return;

  std::string found;
  for (const char* name : kResults) {
    const fs::path p = file(name);
    const bool empty_log = fs::is_regular_file(p) && fs::file_size(p) == 0;
    if (fs::exists(fs::symlink_status(p)) && !empty_log) found += (found.empty() ? "" : ", ") + std::string(name);
  }
  if (found.empty()) return;
  if (!replace) {
    std::string advice = "replace it with --force, or train into another directory (--out DIR or --set name=NEW)";
    if (fs::exists(file("last.safetensors")) && !fs::exists(file("summary.json"))) {
      advice = "resume it with gradflow train --resume " + file("last.safetensors") + ", " + advice;
    }
    throw InputError(dir_ + ": holds an earlier run (" + found + "); " + advice);
  }
  for (const char* name : kResults) fs::remove(file(name));
}

void RunDirectory::remove_stale_temporaries() const {
  // "last.safetensors.4711.tmp": the temporary file of a process that was killed while writing
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".tmp") != 0) continue;
    const std::string stem = name.substr(0, name.size() - 4);
    const auto dot = stem.rfind('.');
    if (dot == std::string::npos || stem.find_first_not_of("0123456789", dot + 1) != std::string::npos || dot + 1 == stem.size()) {
      continue;
    }
    const long pid = std::strtol(stem.c_str() + dot + 1, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove(entry.path(), error);
  }
}

std::string RunDirectory::file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

void RunDirectory::check_config_unedited(const nlohmann::json& checkpoint_config) const {
  const std::string path = file("config.json");
  if (!fs::exists(path)) return;  // resuming into a new directory
  const std::string text = read_file(path, "the run's config");
  // as gradflow wrote it last: an earlier resume with other --set values that failed before its
  // first checkpoint (a divergence, kill -9) is not an edit
  const std::string written = file(".gradflow.config");
  if (fs::exists(written) && fingerprint(text) == read_file(written, "the config's fingerprint")) return;
  const nlohmann::json on_disk = nlohmann::json::parse(text, nullptr, false);
  if (on_disk == checkpoint_config) return;
  if (on_disk.is_discarded()) {
    throw InputError(path + ": not valid JSON any more; a resume trains with the checkpoint's config: restore the file, "
                            "or change values with --set");
  }
  const nlohmann::json patch = nlohmann::json::diff(checkpoint_config, on_disk);
  const std::string key = patch.empty() ? "/" : patch[0].value("path", std::string("/"));
  throw InputError(path + ": edited after the checkpoint was written (at " + key +
                   "); a resume trains with the checkpoint's config: give the change as --set, and restore the file");
}

void RunDirectory::prepare(const nlohmann::json& resolved_config, const TrainPosition* resumed) {
  const std::string text = resolved_config.dump(2) + "\n";
  write_file_atomic(file(".gradflow.config"), fingerprint(text));  // first: see check_config_unedited
  write_file_atomic(file("config.json"), text);
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
