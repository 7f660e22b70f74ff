#pragma once
// Options that several commands share, each defined once: one name, one default, one help text.
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace gradflow::cli {

// Finite-difference entries checked per tensor (gradcheck, step --check).
constexpr int64_t kDefaultCheckEntries = 64;

// --data DIR: the dataset directory, replacing the config's or the checkpoint's data.dir.
CLI::Option* add_data_option(CLI::App& command, std::string& dir);

// --threads N: threads for products and parallel loops, 0 for every core; `threads` keeps -1
// when the option is not given (then the config's "threads", or every core).
CLI::Option* add_threads_option(CLI::App& command, int& threads);

// --precision fp32|bf16: the dense layers' products; `precision` stays empty when the option is not
// given (then the precision the checkpoint's model was trained in).
CLI::Option* add_precision_option(CLI::App& command, std::string& precision);

// --entries N: finite-difference entries checked per tensor, always including the largest (0: all).
CLI::Option* add_entries_option(CLI::App& command, int64_t& entries);

// An integer option's check, on its text: decimal digits (a sign for negatives) in [low, high],
// else "expected an integer in [low, high], got TEXT" (a parse error, exit 2).
CLI::Validator integer_in(int64_t low, int64_t high);

// The calibration assessment's settings (eval, calibrate), each -1 when not given (then the run's
// calibration settings and seed):
//   --bins N       confidence bins for ECE and MCE;
//   --bootstrap N  bootstrap resamples behind every interval; 0 for none (no intervals, no
//                  verdicts), else at least kMinimumResamples (fewer are refused: a parse error, exit 2);
//   --seed N       seed of the bootstrap and the noise floor.
void add_assessment_options(CLI::App& command, int& bins, int& resamples, int64_t& seed);

// The --set assignments of a command that reads a config, with --data and --threads (when given)
// appended as data.dir and threads: they win over the config file and earlier --set values.
std::vector<std::string> config_overrides(std::vector<std::string> sets, const std::string& data, int threads);

// Makes SIGINT and SIGTERM set the returned flag instead of ending the process: training then
// stops after its current step and saves last.safetensors; a sweep passes the signal on.
const std::atomic<bool>& install_stop_handlers();

// The command as the user typed it (argv[0]: "build/bin/gradflow", "gradflow"), for hints that
// are run as printed; set by main.
std::string& invoked_as();

// The threads to use: `option` when given (>= 0), else `configured`.
inline int threads_to_use(int option, int configured) { return option >= 0 ? option : configured; }

}  // namespace gradflow::cli
