#pragma once
// Where a run of a sweep stands, read from its directory alone, so a sweep started again (or on
// another rank) knows what to skip, resume or start:
//   finished     summary.json exists
//   failed       sweep_failure.json exists (the exit of the process that trained it)
//   interrupted  last.safetensors exists without summary.json: train --resume continues it
//   pending      nothing to continue (no directory, or a run stopped before its first checkpoint)
#include <string>

namespace gradflow::sweep {

enum class RunStatus { pending, interrupted, finished, failed };

const char* to_string(RunStatus status);

RunStatus detect_status(const std::string& run_dir);

// The failure record: <run_dir>/sweep_failure.json {"exit_code": N} or {"signal": N}.
constexpr const char* kFailureFile = "sweep_failure.json";
void record_failure(const std::string& run_dir, int exit_code, int signal);
// The exit code recorded (or 128 + the signal), 0 when none is.
int recorded_failure(const std::string& run_dir);
void clear_failure(const std::string& run_dir);

}  // namespace gradflow::sweep
