// gradflow: train and study small neural networks from JSON configs.
// Exit codes: 0 success, 1 a check failed or an unexpected error, 2 bad input (config, file,
// checkpoint, arguments), 3 training diverged.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <new>

#include "commands.h"
#include "gradflow/distributed/communicator.h"
#include "gradflow/errors.h"
#include "gradflow/plugin.h"
#include "options.h"
#include "progress_bar.h"

namespace {

// "gradflow: error: " on rank 0 or alone, "[rank N] gradflow: error: " on the other ranks of mpirun
std::string error_prefix() {
  const int rank = gradflow::world().rank();
  return (rank == 0 ? std::string() : "[rank " + std::to_string(rank) + "] ") + "gradflow: error: ";
}

int run(int argc, char** argv) {
  // A closed stdout or stderr (`gradflow train | tee log`, then Ctrl-C) must not kill a run before
  // it saves: a write to it fails with EPIPE instead, and the logs are lost, not the run.
  std::signal(SIGPIPE, SIG_IGN);
  // Past `ulimit -f` a write fails with EFBIG and is reported like a full disk, temporary file
  // removed, instead of the process being killed half-way through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"gradflow: train MLPs on MNIST-style image data from JSON configs, with hand-written backward passes"};
  app.set_version_flag("--version", std::string("gradflow 0.1.0 (") +
                                        (gradflow::built_with_mpi() ? "with MPI: mpirun -np N trains data-parallel"
                                                                    : "without MPI") + ")");
  app.require_subcommand(1);
  if (argc > 0) gradflow::cli::invoked_as() = argv[0];
  app.fallthrough();
  std::string log_level = "info";
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins, "a shared library of layers built with gradflow_add_plugin(); repeatable, "
                                      "before or after the command")
      ->type_name("FILE");
  app.add_option("--log-level", log_level, "log level: trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  gradflow::cli::Action action;
  gradflow::cli::add_train_command(app, action);
  gradflow::cli::add_eval_command(app, action);
  gradflow::cli::add_step_command(app, action);
  gradflow::cli::add_gradcheck_command(app, action);
  gradflow::cli::add_calibrate_command(app, action);
  gradflow::cli::add_predict_command(app, action);
  gradflow::cli::add_report_command(app, action);
  gradflow::cli::add_layers_command(app, action);
  gradflow::cli::add_optimizers_command(app, action);
  gradflow::cli::add_backends_command(app, action);
  gradflow::cli::add_bench_command(app, action);
  gradflow::cli::add_sweep_command(app, action);
  gradflow::cli::add_compare_command(app, action);
  gradflow::cli::add_completion_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and exit 0; every other parse error is one line, exit 2
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "gradflow: error: %s\n", gradflow::cli::parse_error_line(app, e, argc, argv).c_str());
    return 2;
  }
  // under mpirun, train and sweep share the work among the ranks; any other command would only
  // run N times over
  if (gradflow::world().distributed()) {
    const std::string command = app.get_subcommands().front()->get_name();
    if (command != "train" && command != "sweep") {
      std::fprintf(stderr, "%sgradflow %s runs in one process: run it without mpirun (train and sweep use the ranks)\n",
                   error_prefix().c_str(), command.c_str());
      return 2;
    }
  }

  // on a terminal, long work draws a progress line that log messages clear first
  gradflow::cli::TaskProgress task_progress;
  // under mpirun, rank 0 alone shows progress and the log; the others' warnings and errors name them
  const int rank = gradflow::world().rank();
  if (gradflow::cli::stderr_is_terminal() && rank == 0) gradflow::set_progress_sink(&task_progress);
  auto logger = std::make_shared<spdlog::logger>("gradflow", gradflow::cli::progress_aware_log_sink());
  logger->set_pattern(rank == 0 ? "[%T] %^%l%$ %v" : "[%T] [rank " + std::to_string(rank) + "] %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(rank == 0 ? spdlog::level::from_str(log_level)
                              : std::max(spdlog::level::warn, spdlog::level::from_str(log_level)));

  try {
    for (const auto& plugin : plugins) gradflow::load_plugin(plugin);
    gradflow::check_registrations();
    return action();
  } catch (const gradflow::InputError& e) {
    std::fprintf(stderr, "%s%s\n", error_prefix().c_str(), e.what());
    return 2;
  } catch (const gradflow::DivergenceError& e) {
    std::fprintf(stderr, "%s%s\n", error_prefix().c_str(), e.what());
    return 3;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%sout of memory: the input or the model is too large for this machine\n", error_prefix().c_str());
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // "RUN: cannot create directories: Read-only file system", not the library's bracketed form
    const std::string path = e.path1().empty() ? std::string("file system") : e.path1().string();
    std::fprintf(stderr, "%s%s: %s\n", error_prefix().c_str(), path.c_str(), e.code().message().c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s%s\n", error_prefix().c_str(), e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // MPI starts first when mpirun (or srun) started this process, before any thread exists
  gradflow::DistributedSession session(argc, argv);
  return session.finish(run(argc, argv));
}
