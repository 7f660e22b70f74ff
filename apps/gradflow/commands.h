#pragma once
// Each subcommand adds itself to the command line and returns the action to run once the
// arguments are parsed. The action returns the process exit code.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace gradflow::cli {

using Action = std::function<int()>;

void add_train_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_step_command(CLI::App& app, Action& action);
void add_gradcheck_command(CLI::App& app, Action& action);
void add_layers_command(CLI::App& app, Action& action);
void add_optimizers_command(CLI::App& app, Action& action);
void add_backends_command(CLI::App& app, Action& action);
void add_calibrate_command(CLI::App& app, Action& action);
void add_predict_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_sweep_command(CLI::App& app, Action& action);
void add_compare_command(CLI::App& app, Action& action);
// Walks `app` when run, so it completes every command added before or after it.
void add_completion_command(CLI::App& app, Action& action);

// A parse error of the command line as one line without the "gradflow: error: " prefix: the
// command it concerns and, for a misspelt command or option, the nearest existing name.
std::string parse_error_line(CLI::App& app, const CLI::ParseError& error, int argc, char** argv);

}  // namespace gradflow::cli
