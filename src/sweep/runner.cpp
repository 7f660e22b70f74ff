#include "gradflow/sweep/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <thread>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"

extern char** environ;

namespace gradflow::sweep {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int child_threads(int option, int configured, int jobs, unsigned cores, const Grid& grid) {
  for (const auto& axis : grid.axes) {
    if (axis.path == "threads") return -1;  // the grid's value is what the run studies
  }
  if (option >= 0) return option;
  if (jobs > 1 && configured == 0) return std::max(1, static_cast<int>(cores) / jobs);
  return -1;
}

std::vector<std::string> scrub_mpi_environment(const std::vector<std::string>& environment) {
  std::vector<std::string> kept;
  for (const auto& entry : environment) {
    bool launcher = false;
    for (const char* prefix : {"OMPI_", "PMIX_", "PMI_"}) launcher = launcher || entry.rfind(prefix, 0) == 0;
    if (!launcher) kept.push_back(entry);
  }
  return kept;
}

std::vector<std::string> child_command(const SweepPlan& plan, size_t index, const SweepOptions& options, bool resume) {
  const RunSpec& run = plan.runs[index];
  const std::string dir = plan.run_dir(run);
  std::vector<std::string> command{options.executable, "train"};
  if (resume) {
    command.insert(command.end(), {"--resume", (fs::path(dir) / "last.safetensors").string()});
  } else {
    command.insert(command.end(), {"--config", plan.config_file});
    for (const auto& set : plan.overrides) command.insert(command.end(), {"--set", set});
    for (const auto& set : plan.run_assignments(run)) command.insert(command.end(), {"--set", set});
    command.insert(command.end(), {"--out", dir});
    if (fs::exists(dir)) command.push_back("--force");  // what an earlier, unfinished or failed start left
  }
  if (options.threads >= 0) command.insert(command.end(), {"--threads", std::to_string(options.threads)});
  return command;
}

namespace {

struct Child {
  size_t index;
  pid_t pid;
  Clock::time_point started;
};

std::string shell_words(const std::vector<std::string>& command) {
  std::string text;
  for (const auto& word : command) {
    const bool plain = word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/=,+:") ==
                       std::string::npos;
    text += (text.empty() ? "" : " ") + (plain ? word : "'" + word + "'");
  }
  return text;
}

// Starts `command` with stdout and stderr appended to `log`, stdin from /dev/null, in a process
// group of its own (a Ctrl-C reaches it through the sweep alone, once) that dies with the sweep.
pid_t spawn(const std::vector<std::string>& command, const std::string& log) {
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  environment = scrub_mpi_environment(environment);
  // everything the child needs is made before fork: after it, only async-signal-safe calls
  std::vector<char*> argv, envp;
  for (const auto& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw InputError(log + ": cannot open the run's log: " + std::strerror(errno));
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(130);  // the sweep ended before the line above
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    const char message[] = "gradflow sweep: cannot run the gradflow binary\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::close(out);
  if (in >= 0) ::close(in);
  if (pid < 0) throw std::runtime_error(std::string("cannot start a run: fork: ") + std::strerror(errno));
  return pid;
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return text;
}

}  // namespace

SweepOutcome run_sweep(const SweepPlan& plan, const SweepOptions& options, int rank, int ranks,
                       const std::function<void()>& barrier) {
  if (ranks < 1 || rank < 0 || rank >= ranks) throw std::invalid_argument("run_sweep: rank outside [0, ranks)");
  if (!options.restart) check_same_sweep(plan);
  barrier();  // every rank has checked before sweep.json is rewritten
  if (rank == 0) write_record(plan);
  barrier();

  SweepOutcome outcome;
  auto stopping = [&] { return options.stop != nullptr && options.stop->load(); };
  auto report = [&](RunEvent event) {
    if (options.on_event) options.on_event(event);
  };
  std::deque<size_t> queue;
  size_t total = 0, done = 0;
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(ranks)) == rank) ++total;
  }
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(ranks)) != rank) continue;
    if (!options.restart && detect_status(plan.run_dir(plan.runs[i])) == RunStatus::finished) {
      report({RunEvent::skipped, i, 0, 0, ++done, total});
    } else {
      queue.push_back(i);
    }
  }

  std::vector<Child> running;
  bool forwarded = false;
  while (!queue.empty() || !running.empty()) {
    while (!stopping() && !queue.empty() && static_cast<int>(running.size()) < std::max(1, options.jobs)) {
      const size_t index = queue.front();
      queue.pop_front();
      const std::string dir = plan.run_dir(plan.runs[index]);
      const bool resume = !options.restart && detect_status(dir) == RunStatus::interrupted;
      const auto command = child_command(plan, index, options, resume);
      fs::create_directories(dir);
      clear_failure(dir);
      const std::string log = (fs::path(dir) / "train.log").string();
      append_line(log, "== " + now_text() + " gradflow sweep " + plan.name + ": " + shell_words(command));
      running.push_back({index, spawn(command, log), Clock::now()});
      report({resume ? RunEvent::resumed : RunEvent::started, index, 0, 0, done, total});
    }
    if (stopping() && !forwarded) {
      for (const auto& child : running) ::kill(child.pid, SIGINT);  // each saves last.safetensors and exits 130
      forwarded = true;
      queue.clear();
    }
    bool reaped = false;
    for (auto child = running.begin(); child != running.end();) {
      int status = 0;
      const pid_t result = ::waitpid(child->pid, &status, WNOHANG);
      if (result == 0 || (result < 0 && errno == EINTR)) {
        ++child;
        continue;
      }
      const std::string dir = plan.run_dir(plan.runs[child->index]);
      const double seconds = std::chrono::duration<double>(Clock::now() - child->started).count();
      const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      const int code = signal != 0 ? 128 + signal : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      RunEvent event{RunEvent::finished, child->index, code, seconds, ++done, total};
      if (code == 0 && detect_status(dir) == RunStatus::finished) {
        event.kind = RunEvent::finished;
      } else if (code == 130 || (forwarded && (signal == SIGINT || signal == SIGTERM))) {
        event.kind = RunEvent::interrupted;  // resumed (or started again) by the next session
      } else {
        event.kind = RunEvent::failed;
        record_failure(dir, signal != 0 ? 0 : code, signal);
        ++outcome.failed;
      }
      if (event.kind == RunEvent::interrupted) outcome.interrupted = true;
      report(event);
      child = running.erase(child);
      reaped = true;
    }
    if (!reaped && !running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (stopping()) outcome.interrupted = true;

  barrier();  // every rank's runs are over
  if (rank == 0) {
    outcome.rows = collect_rows(plan);
    sort_rows(outcome.rows);
    write_tables(plan, outcome.rows);
  }
  return outcome;
}

}  // namespace gradflow::sweep
