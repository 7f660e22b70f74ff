#pragma once
// Errors that gradflow reports to the user as one line. The command line maps
// InputError (bad config, bad file) to exit code 2 and DivergenceError to exit code 3.
#include <stdexcept>
#include <string>

namespace gradflow {

// Bad input: a file, a checkpoint or a command-line value. The message names the file.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A config value that is missing, unknown, of the wrong type or out of range.
// what() reads "config error at /optimizer/lr: expected a number > 0, got "fast"".
class ConfigError : public InputError {
 public:
  ConfigError(const std::string& json_path, const std::string& message)
      : InputError("config error at " + (json_path.empty() ? std::string("/") : json_path) + ": " + message),
        path_(json_path) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Training produced a non-finite loss or gradient.
class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gradflow
