// The command line on a terminal: the training progress line fits the terminal's width at 60,
// 80 and 200 columns and follows a resize, redraws in place and never wraps; off a terminal
// there is one log line per epoch and no progress line.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_cli.h"
#include "test_files.h"

using namespace gradflow::testing;
using nlohmann::json;

namespace {

// A run that lasts until it is interrupted: many short epochs of a wide MLP on 64 features.
std::string endless_config(const std::string& name) {
  const std::string data = write_separable_dataset(name + "_data", 2000, 40);
  const std::string dir = temp_dir(name);
  std::ofstream(dir + "/c.json") << json{{"name", "terminal"},
                                         {"threads", 1},
                                         {"data", {{"dir", data}, {"validation", 100}}},
                                         {"model",
                                          {{"input", 64},
                                           {"layers", {{{"type", "dense"}, {"units", 256}}, {{"type", "relu"}},
                                                       {{"type", "dense"}, {"units", 256}}, {{"type", "relu"}},
                                                       {{"type", "dense"}, {"units", 2}}}}}},
                                         {"optimizer", {{"lr", 0.01}}},
                                         {"training", {{"epochs", 100000}, {"batch_size", 8}}}}
                                        .dump();
  return dir;
}

std::string without_escapes(const std::string& s) { return std::regex_replace(s, std::regex("\033\\[[0-9;]*[A-Za-z]"), ""); }

// A progress line drawn on the terminal and the width the terminal had when it was read.
struct Draw {
  std::string text;
  int columns;
};

}  // namespace

TEST(ProgressOnTerminal, FitsSixtyEightyAndTwoHundredColumnsAndFollowsResizes) {
  const std::string dir = endless_config("progress_pty");
  int master = -1;
  winsize size{24, 200, 0, 0};
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    const std::string config = dir + "/c.json", out = dir + "/run";
    execl(GRADFLOW_BINARY, GRADFLOW_BINARY, "train", "--config", config.c_str(), "--out", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  // each width in turn: after three progress lines drawn at one width, the terminal is resized
  const std::vector<unsigned short> widths{200, 80, 60, 200};
  size_t phase = 0;
  bool first_after_resize = false;
  std::vector<Draw> draws;
  std::string output, pending;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (phase < widths.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
    pending.append(buffer, static_cast<size_t>(n));
    // a progress line is "\r" LINE "\033[K", written at once
    size_t at;
    while ((at = pending.find("\033[K")) != std::string::npos) {
      const size_t cr = pending.rfind('\r', at);
      const std::string line = cr == std::string::npos ? "" : without_escapes(pending.substr(cr + 1, at - cr - 1));
      pending.erase(0, at + 3);
      if (line.empty()) continue;  // the line cleared
      if (first_after_resize) {    // may have been laid out before the resize
        first_after_resize = false;
        continue;
      }
      draws.push_back({line, widths[phase]});
      const size_t drawn_here = static_cast<size_t>(
          std::count_if(draws.begin(), draws.end(), [&](const Draw& d) { return d.columns == widths[phase]; }));
      if (drawn_here >= 3 * (phase == 3 ? 2 : 1) && ++phase < widths.size()) {
        winsize resized{24, widths[phase], 0, 0};
        ASSERT_EQ(ioctl(master, TIOCSWINSZ, &resized), 0);
        first_after_resize = true;
      }
    }
  }
  kill(pid, SIGINT);
  char buffer[4096];
  pollfd p{master, POLLIN, 0};
  while (poll(&p, 1, 10000) > 0) {
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  ASSERT_EQ(phase, widths.size()) << "too few progress lines in 120 s:\n" << output;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << output;

  for (const Draw& d : draws) {
    // every line fits, leaving the last columns free (the last makes some terminals wrap; ^C)
    EXPECT_LE(d.text.size(), static_cast<size_t>(d.columns - 3)) << d.columns << " columns: " << d.text;
    EXPECT_EQ(d.text.find('\n'), std::string::npos);
    EXPECT_TRUE(std::regex_search(d.text, std::regex(R"(^epoch \d+/100000 \[[=> ]{10,40}\]  \d+/238 )"))) << d.text;
    // at 200 columns everything is shown; at 60 the bar keeps at least 10 columns, throughput goes
    if (d.columns != 80) {
      EXPECT_EQ(d.text.find("samples/s") != std::string::npos, d.columns > 80) << d.columns << ": " << d.text;
    }
    if (d.columns == 200) {
      EXPECT_NE(d.text.find(" left"), std::string::npos) << d.text;
    }
  }
  // a log line starts on a line of its own: the progress line is cleared before it is written
  const std::string plain = without_escapes(output);
  for (const char* l : {"info epoch", "warning interrupted"}) EXPECT_NE(plain.find(l), std::string::npos) << output;
  const std::regex stamp(R"(\[\d\d:\d\d:\d\d\])");
  int log_lines = 0;
  for (auto m = std::sregex_iterator(output.begin(), output.end(), stamp); m != std::sregex_iterator(); ++m, ++log_lines) {
    const size_t at = static_cast<size_t>(m->position());
    // back over the escape sequences that cleared the progress line, to a line start
    size_t before = at;
    while (before >= 3 && output.compare(before - 3, 3, "\033[K") == 0) before -= 3;
    const bool own_line = before == 0 || output[before - 1] == '\n' || output[before - 1] == '\r' ||
                          (before >= 3 && output.compare(before - 3, 3, "\033[J") == 0);
    EXPECT_TRUE(own_line) << "a log line after a progress line: " << output.substr(at >= 80 ? at - 80 : 0, 120);
  }
  EXPECT_GE(log_lines, 3);
  // narrowed from 200 to 80 columns below a line of about 100, the next draw first goes up over
  // the row a re-wrapping terminal has made of it
  EXPECT_NE(output.find("\r\033[1A\033[J"), std::string::npos);
}

TEST(ProgressOffTerminal, OneLogLinePerEpochAndNoProgressLine) {
  const std::string dir = endless_config("progress_pipe");
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set training.epochs=3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_EQ(r.err.find("\033["), std::string::npos) << "colours or cursor moves in a pipe";
  const std::regex epoch_line(R"(\] info epoch \d/3 )");
  EXPECT_EQ(std::distance(std::sregex_iterator(r.err.begin(), r.err.end(), epoch_line), std::sregex_iterator()), 3)
      << r.err;
}
