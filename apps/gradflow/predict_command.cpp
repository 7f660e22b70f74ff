#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <numeric>

#include "commands.h"
#include "model_source.h"
#include "options.h"
#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/data/idx.h"
#include "gradflow/data/image.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"
#include "gradflow/parallel.h"
#include "gradflow/report/report.h"

namespace gradflow::cli {

namespace {
struct PredictArgs {
  std::string checkpoint;
  std::vector<std::string> inputs;
  int top = 3;
  bool no_temperature = false;
  bool json = false;
  int64_t max_pixels = kDefaultMaxPixels;
  int threads = -1;
};

bool looks_like_idx(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) return true;
  std::ifstream in(path, std::ios::binary);
  char magic[3] = {1, 1, 1};
  in.read(magic, 3);
  return in.gcount() == 3 && magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08;
}

// Every image of an input, as rows in [0, 1]: an IDX file holds many, a picture one (centred as
// a digit only when the model was trained on digits).
Matrix read_input(const std::string& path, const DataDescription& data, int64_t max_pixels) {
  if (!looks_like_idx(path)) return read_picture(path, data, max_pixels);
  const int64_t features = data.features();
  const IdxArray idx = read_idx(path);
  const int64_t n = idx.dims.size() == 1 ? 1 : idx.dims[0];
  if (n == 0 || static_cast<int64_t>(idx.data.size()) != n * features) {
    throw InputError(path + ": images of " + std::to_string(n > 0 ? static_cast<int64_t>(idx.data.size()) / n : 0) +
                     " pixels, the model expects " + std::to_string(features));
  }
  Matrix out(n, features);
  for (size_t i = 0; i < idx.data.size(); ++i) out.data()[i] = static_cast<float>(idx.data[i]) / 255.0f;
  return out;
}
}  // namespace

void add_predict_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "classify IDX files or PNG/PGM/JPEG pictures, with the class names and calibrated probabilities");
  cmd->add_option("--checkpoint", a->checkpoint, "a model.safetensors written by gradflow train")->required();
  cmd->add_option("inputs", a->inputs, "IDX image files or pictures (a digit, a piece of clothing, ... as the model was trained)")->required();
  cmd->add_option("--top", a->top, "how many classes to show")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_flag("--no-temperature", a->no_temperature, "raw probabilities, without the calibrated temperature");
  add_threads_option(*cmd, a->threads);
  cmd->add_flag("--json", a->json, "print the predictions as one JSON object");
  cmd->add_option("--max-pixels", a->max_pixels, "refuse pictures with more pixels than this, before decoding them")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40))
      ->capture_default_str();
  cmd->callback([&action, a]() {
    action = [a]() {
      LoadedCheckpoint loaded = load_checkpoint(a->checkpoint);
      set_threads(threads_of(loaded, a->threads));
      const DataOptions data = data_of(loaded, "");
      const double raw_t = loaded.model.head().temperature();
      const double t = a->no_temperature ? raw_t : stored_temperature(loaded.metadata, raw_t);
      nlohmann::json predictions = nlohmann::json::array();
      for (const auto& path : a->inputs) {
        Matrix x = read_input(path, loaded.data, a->max_pixels);
        x = ((x.array() - static_cast<float>(data.mean)) / static_cast<float>(data.std)).matrix();  // as in training
        const MatrixT<double> p = softmax(predict_logits(loaded.model, x), t);
        for (Eigen::Index r = 0; r < p.rows(); ++r) {
          std::vector<int> order(static_cast<size_t>(p.cols()));
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(), [&](int i, int j) { return p(r, i) > p(r, j); });
          nlohmann::json top = nlohmann::json::array();
          for (int k = 0; k < std::min<int>(a->top, static_cast<int>(order.size())); ++k) {
            const int c = order[static_cast<size_t>(k)];
            top.push_back({{"class", c}, {"name", loaded.data.class_names[static_cast<size_t>(c)]}, {"probability", p(r, c)}});
          }
          predictions.push_back({{"input", path}, {"index", r}, {"top", top}});
        }
      }
      if (a->json) {
        std::cout << nlohmann::json{{"checkpoint", a->checkpoint}, {"temperature", t}, {"predictions", predictions}}.dump()
                  << std::endl;
      } else {
        for (const auto& pr : predictions) {
          std::string line = pr["input"].get<std::string>();
          if (pr["index"] != 0 || looks_like_idx(line)) line += "[" + pr["index"].dump() + "]";
          line += ":";
          for (const auto& c : pr["top"]) {
            char b[32];
            std::snprintf(b, sizeof b, " (%.4f)", c["probability"].get<double>());
            line += "  " + c["name"].get<std::string>() + b;
          }
          std::cout << line << "\n";
        }
        std::cout.flush();
      }
      return 0;
    };
  });
}

void add_report_command(CLI::App& app, Action& action) {
  struct ReportArgs {
    std::string run_dir;
    bool json = false;
  };
  auto a = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "write RUN_DIR/report.html: curves, reliability, confusion, gradient norms");
  cmd->add_option("run_dir", a->run_dir, "a run directory written by gradflow train")->required();
  cmd->add_flag("--json", a->json, "print {\"report\": PATH, \"run_dir\": DIR} as one JSON object");
  cmd->callback([&action, a]() {
    action = [a]() {
      const std::string path = write_report(a->run_dir);
      if (a->json) {
        std::cout << nlohmann::json{{"report", path}, {"run_dir", a->run_dir}}.dump() << std::endl;
      } else {
        std::cout << path << std::endl;
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
