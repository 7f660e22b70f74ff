// gradflow sweep: the grid and its run names, refused grids, and real sweeps of tiny runs as
// child processes: two at a time, started again (finished runs skipped), interrupted and
// resumed, and a run that fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/sweep/grid.h"
#include "gradflow/sweep/runner.h"
#include "gradflow/sweep/table.h"
#include "test_cli.h"
#include "test_configs.h"

using namespace gradflow;
using namespace gradflow::sweep;
using namespace gradflow::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

// A config of separable_config in `dir`/c.json, its runs under `dir`/runs.
std::string write_config(const std::string& dir, const std::string& data, int epochs, int n_validation = 100) {
  json c = separable_config(data, epochs, n_validation);
  c["output"] = {{"dir", dir + "/runs"}};
  std::ofstream(dir + "/c.json") << c.dump();
  return dir + "/c.json";
}

std::string write_grid(const std::string& dir, const std::string& text, const std::string& name = "grid.json") {
  std::ofstream(dir + "/" + name) << text;
  return dir + "/" + name;
}

}  // namespace

TEST(SweepGrid, ExpandsTheCartesianProductInFileOrderWithReadableNames) {
  const Grid grid = parse_grid(R"({"optimizer.lr": [0.05, 0.1], "model.layers.0.units": [256, 512]})", "g.json");
  ASSERT_EQ(grid.axes.size(), 2u);
  EXPECT_EQ(grid.axes[0].path, "optimizer.lr");  // the file's order, not JSON's sorted keys
  const auto runs = expand(grid);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].name, "lr=0.05,units=256");
  EXPECT_EQ(runs[1].name, "lr=0.05,units=512");
  EXPECT_EQ(runs[2].name, "lr=0.1,units=256");
  EXPECT_EQ(runs[3].name, "lr=0.1,units=512");
  EXPECT_EQ(runs[3].assignments, (std::vector<std::string>{"optimizer.lr=0.1", "model.layers.0.units=512"}));
}

TEST(SweepGrid, NamesAreFileSafeUniqueAndQuoteStringsInAssignments) {
  const Grid grid = parse_grid(R"({"optimizer.type": ["adam", "sgd"], "data.dir": ["a/b", "a_b"],
                                   "model.layers.0.units": [8], "model.layers.2.units": [2]})", "g.json");
  const auto labels = axis_labels(grid);
  EXPECT_EQ(labels, (std::vector<std::string>{"type", "dir", "model.layers.0.units", "model.layers.2.units"}));
  const auto runs = expand(grid);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].name, "type=adam,dir=a_b,model.layers.0.units=8,model.layers.2.units=2");
  EXPECT_EQ(runs[1].name, runs[0].name + "_2");  // "a_b" and "a/b" read the same once safe
  EXPECT_EQ(runs[0].assignments[0], "optimizer.type=\"adam\"");  // a JSON string stays a string
  EXPECT_EQ(file_safe("x y/../z"), "x_y_.._z");
  EXPECT_EQ(file_safe(".."), "_..");
  const std::string long_name = file_safe(std::string(300, 'a'));
  EXPECT_EQ(long_name.size(), 120u);
  EXPECT_NE(long_name, file_safe(std::string(299, 'a') + "b"));
}

TEST(SweepGrid, RefusesWhatIsNotAGridNamingTheFileAndPath) {
  const std::pair<const char*, const char*> cases[] = {
      {"[1, 2]", "g.json: at /: expected an object"},
      {"{}", "g.json: at /: the grid names no --set path"},
      {R"({"optimizer.lr": []})", "g.json: at /optimizer.lr: an empty list"},
      {R"({"optimizer.lr": 0.1})", "g.json: at /optimizer.lr: expected a list of values, got 0.1"},
      {R"({"optimizer..lr": [1]})", "g.json: at /optimizer..lr: \"optimizer..lr\" is not a --set path"},
      {R"({"a/b": [1]})", ""},  // a path --set takes: refused later, by the config, if at all
      {R"({"optimizer.lr": [0.1, 0.1]})", "g.json: at /optimizer.lr/1: 0.1 is listed twice"},
      {"{", "g.json: not valid JSON"}};
  for (const auto& [text, message] : cases) {
    if (std::string(message).empty()) {
      EXPECT_NO_THROW(parse_grid(text, "g.json"));
      continue;
    }
    try {
      parse_grid(text, "g.json");
      ADD_FAILURE() << text << " was accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(message, 0), 0u) << text << ": " << e.what();
    }
  }
}

TEST(SweepRunner, ChildrenGetNoMpiVariablesAndAShareOfTheCores) {
  EXPECT_EQ(scrub_mpi_environment({"PATH=/bin", "OMPI_COMM_WORLD_RANK=1", "PMIX_RANK=1", "PMI_SIZE=2", "HOME=/h",
                                   "MY_OMPI_X=1"}),
            (std::vector<std::string>{"PATH=/bin", "HOME=/h", "MY_OMPI_X=1"}));
  const Grid lr = parse_grid(R"({"optimizer.lr": [1]})", "g");
  EXPECT_EQ(child_threads(-1, 0, 1, 8, lr), -1);  // one job: the config's (every core)
  EXPECT_EQ(child_threads(-1, 0, 3, 8, lr), 2);
  EXPECT_EQ(child_threads(-1, 0, 4, 2, lr), 1);
  EXPECT_EQ(child_threads(-1, 3, 4, 8, lr), -1);  // the config names its threads
  EXPECT_EQ(child_threads(5, 0, 4, 8, lr), 5);
  EXPECT_EQ(child_threads(5, 0, 4, 8, parse_grid(R"({"threads": [1, 2]})", "g")), -1);
}

TEST(SweepTable, SortsByValidationAccuracyUnknownLastAndFitsEightyColumns) {
  std::vector<SweepRow> rows(4);
  const double accuracies[] = {0.9, NAN, 0.95, 0.9};
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].index = i;
    rows[i].name = "lr=0." + std::to_string(i);
    rows[i].metrics.validation_accuracy = accuracies[i];
    rows[i].status = std::isnan(accuracies[i]) ? RunStatus::failed : RunStatus::finished;
    rows[i].exit_code = 3;
  }
  sort_rows(rows);
  EXPECT_EQ(rows[0].index, 2u);
  EXPECT_EQ(rows[1].index, 0u);  // a tie keeps the grid's order
  EXPECT_EQ(rows[2].index, 3u);
  EXPECT_EQ(rows[3].index, 1u);
  const std::string text = rows_text(rows);
  EXPECT_NE(text.find("failed (exit 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("val loss"), std::string::npos) << text;
  rows[0].name = std::string(40, 'x');
  const std::string narrow = rows_text(rows, 80);
  EXPECT_EQ(narrow.find("val loss"), std::string::npos) << narrow;  // dropped first to fit
  for (size_t start = 0, end; (end = narrow.find('\n', start)) != std::string::npos; start = end + 1) {
    std::string line = narrow.substr(start, end - start);
    size_t dashes = count_of(line, "–");  // three bytes, one column
    EXPECT_LE(line.size() - 2 * dashes, 80u) << line;
  }
}

TEST(SweepCli, RefusesABadGridOrCombinationBeforeAnyRunStarts) {
  const std::string data = write_separable_dataset("sweep_bad_data", 200, 20);
  const std::string dir = temp_dir("sweep_bad");
  const std::string config = write_config(dir, data, 1);
  const std::pair<std::string, std::string> cases[] = {
      {R"({"optimizer.lr": []})", dir + "/grid.json: at /optimizer.lr: an empty list"},
      {R"({"optimizer.lr": "0.1"})", dir + "/grid.json: at /optimizer.lr: expected a list of values"},
      {R"([0.1])", dir + "/grid.json: at /: expected an object"},
      // the second combination is refused by the config, as train --set would refuse it
      {R"({"optimizer.lr": [0.1, -1]})",
       dir + "/grid.json: run lr=-1 (at /optimizer.lr: -1): config error at /optimizer/lr"},
      {R"({"model.layers.7.units": [4]})", dir + "/grid.json: run units=4 (at /model.layers.7.units: 4): config error at /model/layers/7"},
      {R"({"training.epoch": [2]})", dir + "/grid.json: run epoch=2 (at /training.epoch: 2): config error at /training/epoch: unknown key"}};
  for (const auto& [grid, message] : cases) {
    write_grid(dir, grid);
    const CliRun r = run_cli("sweep --config " + config + " --grid " + dir + "/grid.json");
    EXPECT_EQ(r.code, 2) << grid << ": " << r.err;
    EXPECT_EQ(r.err.rfind("gradflow: error: " + message, 0), 0u) << grid << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_FALSE(fs::exists(dir + "/runs")) << grid << ": a run started";
  }
}

TEST(SweepCli, TwoByTwoWithTwoJobsThenStartedAgainSkipsEveryRun) {
  const std::string data = write_separable_dataset("sweep_data", 400, 60);
  const std::string dir = temp_dir("sweep_2x2");
  const std::string config = write_config(dir, data, 2);
  // lr 0 learns nothing: its validation accuracy is below every other's
  const std::string grid = write_grid(dir, R"({"optimizer.lr": [0.0001, 0.05], "model.layers.0.units": [4, 16]})");
  const std::string command = "sweep --config " + config + " --grid " + grid + " --jobs 2";
  const CliRun r = run_cli(command);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string sweep = dir + "/runs/separable-grid";
  const char* names[] = {"lr=0.0001,units=4", "lr=0.0001,units=16", "lr=0.05,units=4", "lr=0.05,units=16"};
  std::map<std::string, fs::file_time_type> written;
  for (const char* name : names) {
    const std::string run = sweep + "/" + name;
    ASSERT_TRUE(fs::exists(run + "/summary.json")) << name << "\n" << read_all(run + "/train.log");
    written[name] = fs::last_write_time(run + "/summary.json");
    EXPECT_EQ(count_of(read_all(run + "/train.log"), "== "), 1u);
    EXPECT_EQ(load_json_file(run + "/config.json")["name"], name);
  }
  EXPECT_EQ(load_json_file(sweep + "/lr=0.05,units=16/config.json")["model"]["layers"][0]["units"], 16);
  EXPECT_EQ(count_of(r.out, "start   "), 4u) << r.out;
  EXPECT_EQ(count_of(r.out, "done    "), 4u) << r.out;

  // sweep.csv: a header and one row per run, best validation accuracy first
  std::ifstream csv(sweep + "/sweep.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header, "run,optimizer.lr,model.layers.0.units,status,validation_accuracy,validation_loss,test_accuracy,epochs,"
                    "train_seconds");
  std::vector<double> accuracies;
  std::vector<std::string> runs;
  while (std::getline(csv, line)) {
    // "lr=0.05,units=16",0.05,16,finished,0.97,...: the quoted name, then 2 values, status, accuracy
    ASSERT_EQ(line[0], '"') << line;
    const size_t end = line.find('"', 1);
    runs.push_back(line.substr(1, end - 1));
    std::vector<std::string> fields;
    std::stringstream rest(line.substr(end + 2));
    for (std::string f; std::getline(rest, f, ',');) fields.push_back(f);
    ASSERT_EQ(fields.size(), 8u) << line;
    EXPECT_EQ(fields[2], "finished");
    EXPECT_EQ(fields[6], "2");
    const json summary = load_json_file(sweep + "/" + runs.back() + "/summary.json");
    EXPECT_NEAR(std::stod(fields[3]), summary["validation_accuracy"].get<double>(), 1e-5);
    accuracies.push_back(std::stod(fields[3]));
  }
  ASSERT_EQ(accuracies.size(), 4u);
  EXPECT_TRUE(std::is_sorted(accuracies.rbegin(), accuracies.rend())) << read_all(sweep + "/sweep.csv");
  EXPECT_GT(accuracies.front(), accuracies.back()) << "the grid should make a difference";
  EXPECT_NE(r.out.find(runs.front()), std::string::npos);
  EXPECT_LT(r.out.rfind(runs.front()), r.out.rfind(runs.back())) << "the terminal table is sorted too\n" << r.out;

  const std::string page = read_all(sweep + "/sweep.html");
  EXPECT_NE(page.find("validation accuracy per epoch"), std::string::npos);
  EXPECT_LT(page.find(runs.front() + "</a>"), page.find(runs.back() + "</a>"));
  EXPECT_EQ(count_of(page, "<polyline"), 4u);
  const json record = load_json_file(sweep + "/sweep.json");
  EXPECT_EQ(record["runs"].size(), 4u);
  EXPECT_EQ(record["grid"]["optimizer.lr"], json({0.0001, 0.05}));

  // started again: every run is finished, none is trained again
  const CliRun again = run_cli(command + " --json");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(count_of(again.err, "(finished earlier)"), 4u) << again.err;
  for (const char* name : names) {
    EXPECT_EQ(fs::last_write_time(sweep + "/" + name + "/summary.json"), written[name]) << name;
    EXPECT_EQ(count_of(read_all(sweep + "/" + name + "/train.log"), "== "), 1u) << name;
  }
  const json table = json::parse(again.out);
  ASSERT_EQ(table["runs"].size(), 4u);
  EXPECT_EQ(table["runs"][0]["run"], runs.front());
  EXPECT_EQ(table["runs"][0]["status"], "finished");
  EXPECT_EQ(table["runs"][0]["values"]["optimizer.lr"], 0.05);

  // another grid under the same sweep name is refused, and changes nothing
  write_grid(dir, R"({"optimizer.lr": [0.0001, 0.1], "model.layers.0.units": [4, 16]})");
  const CliRun changed = run_cli(command);
  EXPECT_EQ(changed.code, 2);
  EXPECT_NE(changed.err.find(sweep + "/sweep.json: this sweep was started with another grid (at /grid/optimizer.lr/1)"),
            std::string::npos)
      << changed.err;
  EXPECT_EQ(load_json_file(sweep + "/sweep.json")["grid"]["optimizer.lr"], json({0.0001, 0.05}));
}

TEST(SweepCli, AFailedRunIsRecordedTheOthersRunAndTheSweepExitsNonZero) {
  const std::string data = write_separable_dataset("sweep_fail_data", 300, 40);
  const std::string dir = temp_dir("sweep_fail");
  const std::string config = write_config(dir, data, 2);
  const std::string grid = write_grid(dir, R"({"optimizer.lr": [1e30, 0.05]})", "lr.json");
  const CliRun r = run_cli("sweep --config " + config + " --grid " + grid + " --name lr");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("1 of 2 runs failed"), std::string::npos) << r.err;
  const std::string sweep = dir + "/runs/lr";
  EXPECT_NE(r.out.find("FAILED  lr=1e+30 with exit 3"), std::string::npos) << r.out;
  EXPECT_NE(read_all(sweep + "/lr=1e+30/train.log").find("training diverged"), std::string::npos);
  EXPECT_TRUE(fs::exists(sweep + "/lr=0.05/summary.json"));  // the sweep went on
  const std::string csv = read_all(sweep + "/sweep.csv");
  EXPECT_NE(csv.find("lr=1e+30,1e+30,failed (exit 3),"), std::string::npos) << csv;
  EXPECT_LT(csv.find("lr=0.05,"), csv.find("lr=1e+30,")) << csv;
  EXPECT_NE(r.out.find("failed (exit 3)"), std::string::npos) << r.out;
}

TEST(SweepCli, AnInterruptedSweepSavesItsRunAndTheNextSessionResumesIt) {
  const std::string data = write_separable_dataset("sweep_signal_data", 6000, 100);
  const std::string dir = temp_dir("sweep_signal");
  json c = separable_config(data, 300);
  c["output"] = {{"dir", dir + "/runs"}};
  std::ofstream(dir + "/c.json") << c.dump();
  const std::string grid = write_grid(dir, R"({"seed": [1, 2]})");
  const std::string sweep = dir + "/runs/separable-grid";

  const pid_t pid = fork();
  if (pid == 0) {
    const int out = ::open((dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    execl(GRADFLOW_BINARY, GRADFLOW_BINARY, "sweep", "--config", (dir + "/c.json").c_str(), "--grid", grid.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // The first run's process writes its PID into the run directory's lock once its signal
  // handlers are in place. Holding it stopped there makes this independent of how fast it trains:
  // the sweep's SIGINT reaches it mid-run, whatever the machine.
  pid_t child = 0;
  for (int i = 0; i < 20000 && child == 0; ++i) {
    child = static_cast<pid_t>(std::atol(read_all(sweep + "/seed=1/.gradflow.lock").c_str()));
    if (child == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ASSERT_GT(child, 0) << read_all(dir + "/out");
  ASSERT_NE(child, pid);
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);  // the sweep alone: it passes the signal on
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(child, SIGCONT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_all(dir + "/out");
  EXPECT_TRUE(fs::exists(sweep + "/seed=1/last.safetensors"));
  EXPECT_FALSE(fs::exists(sweep + "/seed=1/summary.json"));
  EXPECT_FALSE(fs::exists(sweep + "/seed=2")) << "no run starts once the sweep is stopping";
  EXPECT_NE(read_all(sweep + "/sweep.csv").find(",interrupted,"), std::string::npos) << read_all(sweep + "/sweep.csv");

  const CliRun again = run_cli("sweep --config " + dir + "/c.json --grid " + grid);
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("resume  seed=1 (from last.safetensors)"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("start   seed=2"), std::string::npos) << again.out;
  const std::string log = read_all(sweep + "/seed=1/train.log");
  EXPECT_EQ(count_of(log, "== "), 2u) << log;
  EXPECT_NE(log.find("train --resume " + sweep + "/seed=1/last.safetensors"), std::string::npos) << log;
  const json summary = load_json_file(sweep + "/seed=1/summary.json");
  EXPECT_EQ(summary["sessions"], 2);  // resumed, not retrained
  EXPECT_EQ(summary["epochs"], 300);
  EXPECT_EQ(load_json_file(sweep + "/seed=2/summary.json")["sessions"], 1);
}
