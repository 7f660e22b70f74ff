#pragma once
// Running the gradflow command line from a test: its exit code, stdout and stderr.
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "test_files.h"

namespace gradflow::testing {

struct CliRun {
  int code;  // the exit code; -1 when killed by a signal
  std::string out, err;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

// `gradflow ARGS` through the shell (ARGS may hold quotes), stdin closed, started by `launcher`
// when given ("mpirun -np 2"). TMPDIR: what the command keeps in the temporary directory
// (bench's gzip copy) goes with the test's files.
inline CliRun run_cli(const std::string& args, const std::string& launcher = "") {
  const std::string dir = temp_dir("cli_io");
  const std::string command = "TMPDIR=" + dir + " " + launcher + (launcher.empty() ? "" : " ") +
                              std::string(GRADFLOW_BINARY) + " " + args + " >" + dir + "/out 2>" + dir + "/err </dev/null";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_all(dir + "/out"), read_all(dir + "/err")};
}

inline size_t lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace gradflow::testing
