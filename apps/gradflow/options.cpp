#include "options.h"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <charconv>
#include <limits>
#include <string>

#include "gradflow/calibration/bootstrap.h"

namespace gradflow::cli {

CLI::Option* add_data_option(CLI::App& command, std::string& dir) {
  return command.add_option("--data", dir, "the dataset directory (default: the config's or the checkpoint's data.dir)")
      ->type_name("DIR");
}

CLI::Option* add_threads_option(CLI::App& command, int& threads) {
  return command.add_option("--threads", threads, "threads, 0 for every core (default: the \"threads\" of the config, or of the checkpoint's config)")
      ->check(CLI::Range(0, 1024))
      ->type_name("N");
}

CLI::Option* add_precision_option(CLI::App& command, std::string& precision) {
  return command
      .add_option("--precision", precision,
                  "the dense layers' products: fp32 or bf16 (default: the precision the model was trained in)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

CLI::Option* add_entries_option(CLI::App& command, int64_t& entries) {
  return command
      .add_option("--entries", entries, "finite-difference entries checked per tensor, always including the largest (0: all)")
      ->check(CLI::Range(int64_t(0), int64_t(1'000'000'000)))
      ->type_name("N")
      ->capture_default_str();
}

CLI::Validator integer_in(int64_t low, int64_t high) {
  const std::string range = "[" + std::to_string(low) + ", " + std::to_string(high) + "]";
  return CLI::Validator(
      [low, high, range](std::string& text) -> std::string {
        // checked on the text, before CLI11 converts it: a value past int64's range would be clamped
        int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error == std::errc() && end == text.data() + text.size() && value >= low && value <= high) return "";
        return "expected an integer in " + range + ", got " + text;
      },
      "INT in " + range);
}

void add_assessment_options(CLI::App& command, int& bins, int& resamples, int64_t& seed) {
  const CLI::Validator zero_or_enough(
      [](std::string& text) -> std::string {
        try {
          const long long n = std::stoll(text);
          if (n == 0 || (n >= kMinimumResamples && n <= 100000)) return "";
        } catch (const std::exception&) {
        }
        return "0 (no intervals) or " + std::to_string(kMinimumResamples) + " to 100000 resamples, got " + text;
      },
      "0|" + std::to_string(kMinimumResamples) + "..100000");
  command.add_option("--bins", bins, "confidence bins for ECE and MCE (default: the run's calibration.bins, 15)")
      ->check(integer_in(1, 1000));
  command
      .add_option("--bootstrap", resamples,
                  "bootstrap resamples behind every interval, 0 for none (default: the run's calibration.bootstrap, 1000)")
      ->check(zero_or_enough)
      ->type_name("N");
  command.add_option("--seed", seed, "seed of the bootstrap and the noise floor (default: the run's seed)")
      ->check(integer_in(0, std::numeric_limits<int64_t>::max()));
}

namespace {
std::atomic<bool> stop_requested{false};
extern "C" void request_stop(int /*signal*/) { stop_requested.store(true); }
}  // namespace

const std::atomic<bool>& install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return stop_requested;
}

std::vector<std::string> config_overrides(std::vector<std::string> sets, const std::string& data, int threads) {
  if (!data.empty()) sets.push_back("data.dir=" + nlohmann::json(data).dump());  // a JSON string, whatever it looks like
  if (threads >= 0) sets.push_back("threads=" + std::to_string(threads));
  return sets;
}

std::string& invoked_as() {
  static std::string command = "gradflow";
  return command;
}

}  // namespace gradflow::cli
