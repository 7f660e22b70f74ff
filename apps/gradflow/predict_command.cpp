#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
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
#include "gradflow/files.h"
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
  std::string precision;  // empty: the checkpoint's config's
  std::string show;
};

bool idx_magic(const std::string& head) { return head.size() >= 3 && head[0] == 0 && head[1] == 0 && head[2] == 0x08; }

bool looks_like_idx(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) return true;
  std::ifstream in(path, std::ios::binary);
  std::string magic(3, '\1');
  in.read(magic.data(), 3);
  return in.gcount() == 3 && idx_magic(magic);
}

// How an input is named in messages and output lines: `-` is standard input.
std::string display_name(const std::string& path) { return path == "-" ? "<stdin>" : path; }

std::string read_standard_input(int64_t max_pixels) {
  std::string bytes;
  const uint64_t limit = uint64_t(max_pixels) * 8 + (uint64_t(64) << 20);  // as for a picture file
  std::vector<char> chunk(1 << 16);
  while (std::cin.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || std::cin.gcount() > 0) {
    bytes.append(chunk.data(), static_cast<size_t>(std::cin.gcount()));
    if (bytes.size() > limit) throw InputError("<stdin>: more bytes than a picture of " + std::to_string(max_pixels) + " pixels holds");
  }
  return bytes;
}

// An input's images as rows in [0, 1]: an IDX file holds many, a picture one (found and centred
// as a digit only when the model was trained on digits).
struct Input {
  Matrix x;
  bool picture = false;
  DigitCount digits = DigitCount::kOne;
  int groups = 1;
};

Input read_input(const std::string& path, const DataDescription& data, int64_t max_pixels) {
  Input input;
  if (path == "-" || !looks_like_idx(path)) {
    const std::string bytes = path == "-" ? read_standard_input(max_pixels) : read_picture_file(path, max_pixels);
    if (path == "-" && idx_magic(bytes)) throw InputError("<stdin>: an IDX file is read from its path, not from standard input");
    PreparedPicture picture = prepare_picture(display_name(path), bytes, data, max_pixels);
    input.x = std::move(picture.image);
    input.picture = true;
    input.digits = picture.digits;
    input.groups = picture.groups;
    return input;
  }
  const int64_t features = data.features();
  const IdxArray idx = read_idx(path);
  const int64_t n = idx.dims.size() == 1 ? 1 : idx.dims[0];
  if (n == 0 || static_cast<int64_t>(idx.data.size()) != n * features) {
    throw InputError(path + ": images of " + std::to_string(n > 0 ? static_cast<int64_t>(idx.data.size()) / n : 0) +
                     " pixels, the model expects " + std::to_string(features));
  }
  input.x.resize(n, features);
  for (size_t i = 0; i < idx.data.size(); ++i) input.x.data()[i] = static_cast<float>(idx.data[i]) / 255.0f;
  return input;
}

bool is_directory(const std::string& path) {
  std::error_code error;
  return !path.empty() && std::filesystem::is_directory(path, error);
}

// Where --show writes the picture of input `number` (counting from 1): `pattern` with %d replaced
// by the number, or, in a directory, the input's name with .png.
std::string show_path(const std::string& pattern, const std::string& input, size_t number) {
  if (const auto at = pattern.find("%d"); at != std::string::npos) {
    return pattern.substr(0, at) + std::to_string(number) + pattern.substr(at + 2);
  }
  if (is_directory(pattern)) {
    const std::string stem = input == "-" ? "stdin" : std::filesystem::path(input).stem().string();
    return (std::filesystem::path(pattern) / (stem + ".png")).string();
  }
  return pattern;
}

PictureFormat format_of(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".pgm" ? PictureFormat::kPgm : PictureFormat::kPng;
}

void warn(const std::string& message) { std::cerr << "gradflow: warning: " << message << std::endl; }

std::string prediction_line(const nlohmann::json& prediction) {
  std::string line = display_name(prediction["input"].get<std::string>());
  if (prediction["index"] != 0 || !prediction.value("picture", true)) line += "[" + prediction["index"].dump() + "]";
  line += ":";
  for (const auto& c : prediction["top"]) {
    char b[32];
    std::snprintf(b, sizeof b, " (%.4f)", c["probability"].get<double>());
    line += "  " + c["name"].get<std::string>() + b;
  }
  return line;
}
}  // namespace

void add_predict_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "classify IDX files or PNG/PGM/JPEG pictures, with the class names and calibrated probabilities");
  cmd->add_option("--checkpoint", a->checkpoint, "a model.safetensors written by gradflow train")->required();
  cmd->add_option("inputs", a->inputs,
                  "IDX image files or pictures (a photo of a digit on paper, a piece of clothing, ... as the model was trained); "
                  "- reads a picture from standard input")
      ->required();
  cmd->add_option("--top", a->top, "how many classes to show")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_flag("--no-temperature", a->no_temperature, "raw probabilities, without the stored calibrator");
  add_threads_option(*cmd, a->threads);
  add_precision_option(*cmd, a->precision);
  cmd->add_flag("--json", a->json, "print the predictions as one JSON object");
  cmd->add_option("--max-pixels", a->max_pixels, "refuse pictures with more pixels than this, before decoding them")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40))
      ->capture_default_str();
  cmd->add_option("--show", a->show,
                  "save each picture as the model sees it (PNG, or PGM for a .pgm name); with several inputs FILE holds %d "
                  "(the input's number from 1) or is a directory (the input's name with .png)");
  cmd->callback([&action, a]() {
    action = [a]() {
      if (a->inputs.size() > 1 && !a->show.empty() && a->show.find("%d") == std::string::npos && !is_directory(a->show)) {
        throw InputError("--show " + a->show + ": several inputs need a %d in the name (digit-%d.png) or a directory");
      }
      LoadedCheckpoint loaded = load_checkpoint(a->checkpoint);
      set_threads(threads_of(loaded, a->threads));
      use_products_of(loaded, a->precision);
      const DataOptions data = data_of(loaded, "");
      const double raw_t = loaded.model.head().temperature();
      const std::unique_ptr<Calibrator> calibrator =
          a->no_temperature ? temperature_calibrator(raw_t) : stored_calibrator(loaded.metadata, raw_t);
      nlohmann::json predictions = nlohmann::json::array();
      bool failed = false;
      for (size_t number = 1; number <= a->inputs.size(); ++number) {
        const std::string& path = a->inputs[number - 1];
        const std::string name = display_name(path);
        Input input;
        try {
          input = read_input(path, loaded.data, a->max_pixels);
        } catch (const InputError& e) {
          // one unreadable input is reported and the others are still predicted; the exit code says so
          std::cerr << "gradflow: error: " << e.what() << std::endl;
          predictions.push_back({{"input", path}, {"error", e.what()}});
          failed = true;
          continue;
        }
        if (input.picture && !a->show.empty()) {
          const std::string file = show_path(a->show, path, number);
          write_file_atomic(file, encode_picture(input.x, static_cast<int>(loaded.data.rows), static_cast<int>(loaded.data.cols),
                                                 format_of(file)));
        }
        nlohmann::json warning;
        if (input.digits == DigitCount::kNone) {
          warn(name + ": no digit found (a blank page?); not predicted");
          predictions.push_back({{"input", path}, {"index", 0}, {"top", nlohmann::json::array()}, {"warning", "no digit"}, {"digits", 0}});
          continue;
        }
        if (input.digits == DigitCount::kSeveral) {
          warn(name + ": the ink looks like " + std::to_string(input.groups) + " digits, not one; predicting the largest");
        }
        Matrix x = ((input.x.array() - static_cast<float>(data.mean)) / static_cast<float>(data.std)).matrix();  // as in training
        const MatrixT<double> p = calibrator->probabilities(predict_logits(loaded.model, x));
        for (Eigen::Index r = 0; r < p.rows(); ++r) {
          std::vector<int> order(static_cast<size_t>(p.cols()));
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(), [&](int i, int j) { return p(r, i) > p(r, j); });
          nlohmann::json top = nlohmann::json::array();
          for (int k = 0; k < std::min<int>(a->top, static_cast<int>(order.size())); ++k) {
            const int c = order[static_cast<size_t>(k)];
            top.push_back({{"class", c}, {"name", loaded.data.class_names[static_cast<size_t>(c)]}, {"probability", p(r, c)}});
          }
          nlohmann::json prediction{{"input", path}, {"index", r}, {"picture", input.picture}, {"top", top}};
          if (input.digits == DigitCount::kSeveral) prediction["warning"] = "several digits", prediction["digits"] = input.groups;
          if (!a->json) std::cout << prediction_line(prediction) << "\n" << std::flush;
          predictions.push_back(std::move(prediction));
        }
      }
      if (a->json) {
        std::cout << nlohmann::json{{"checkpoint", a->checkpoint},
                                    {"temperature", calibrator->parameters().value("temperature", raw_t)},
                                    {"calibrator", calibrator->to_json()},
                                    {"predictions", predictions}}.dump()
                  << std::endl;
      }
      return failed ? 2 : 0;
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
