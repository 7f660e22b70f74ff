#include "gradflow/data/image.h"

#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "gradflow/errors.h"

namespace gradflow {

namespace {
// Bilinear sample of `pixels` at (y, x), zero outside.
float sample(const std::vector<float>& pixels, int rows, int cols, double y, double x) {
  const int y0 = static_cast<int>(std::floor(y)), x0 = static_cast<int>(std::floor(x));
  const double fy = y - y0, fx = x - x0;
  auto at = [&](int r, int c) -> double {
    return r < 0 || c < 0 || r >= rows || c >= cols ? 0.0 : pixels[size_t(r) * size_t(cols) + size_t(c)];
  };
  return static_cast<float>((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
                            fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)));
}
}  // namespace

Matrix center_digit(const std::vector<float>& pixels, int rows, int cols, int side) {
  Matrix out = Matrix::Zero(1, side * side);
  if (rows == side && cols == side) {
    for (int i = 0; i < side * side; ++i) out(0, i) = pixels[static_cast<size_t>(i)];
    return out;
  }
  // bounding box of the ink
  int top = rows, bottom = -1, left = cols, right = -1;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (pixels[size_t(r) * size_t(cols) + size_t(c)] > 0.1f) {
        top = std::min(top, r);
        bottom = std::max(bottom, r);
        left = std::min(left, c);
        right = std::max(right, c);
      }
    }
  }
  if (bottom < 0) return out;  // blank image
  const int box = side * 20 / 28;
  const double scale = static_cast<double>(box) / std::max(bottom - top + 1, right - left + 1);
  const int h = std::max(1, static_cast<int>(std::lround((bottom - top + 1) * scale)));
  const int w = std::max(1, static_cast<int>(std::lround((right - left + 1) * scale)));
  // resample the box to h × w, averaging several samples per output pixel when shrinking
  const int sub = std::max(1, static_cast<int>(std::ceil(1.0 / scale)));
  std::vector<float> small(static_cast<size_t>(h * w), 0.0f);
  double mass = 0, cy = 0, cx = 0;
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      double sum = 0;
      for (int i = 0; i < sub; ++i) {
        for (int j = 0; j < sub; ++j) {
          sum += sample(pixels, rows, cols, top + (r + (i + 0.5) / sub) / scale - 0.5, left + (c + (j + 0.5) / sub) / scale - 0.5);
        }
      }
      const float v = static_cast<float>(sum / (sub * sub));
      small[static_cast<size_t>(r * w + c)] = v;
      mass += v;
      cy += v * static_cast<double>(r);
      cx += v * static_cast<double>(c);
    }
  }
  // place it so its centre of mass lands in the middle
  const int oy = mass > 0 ? static_cast<int>(std::lround(side / 2.0 - cy / mass - 0.5)) : (side - h) / 2;
  const int ox = mass > 0 ? static_cast<int>(std::lround(side / 2.0 - cx / mass - 0.5)) : (side - w) / 2;
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      const int y = r + oy, x = c + ox;
      if (y >= 0 && x >= 0 && y < side && x < side) out(0, y * side + x) = std::clamp(small[static_cast<size_t>(r * w + c)], 0.0f, 1.0f);
    }
  }
  return out;
}

namespace {
uint32_t little_endian(const std::vector<unsigned char>& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<size_t>(i)];
  return v;
}

// The bytes an uncompressed picture (binary PGM/PPM, BMP without compression) needs for its
// pixels; 0 for any other format. stb_image fills a short file's missing pixels with zeros.
uint64_t uncompressed_bytes(const std::string& path, int rows, int cols, int channels) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> head(34, 0);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  if (head[0] == 'P' && (head[1] == '5' || head[1] == '6')) {
    return uint64_t(rows) * uint64_t(cols) * uint64_t(channels);  // at least one byte a sample
  }
  if (head[0] == 'B' && head[1] == 'M' && in.gcount() == 34) {
    const uint32_t offset = little_endian(head, 10, 4), bits = little_endian(head, 28, 2), compression = little_endian(head, 30, 4);
    if (compression != 0 && compression != 3) return 0;  // run-length encoded
    const uint64_t stride = (uint64_t(cols) * bits + 31) / 32 * 4;
    return offset + stride * uint64_t(rows);
  }
  return 0;
}

// The picture at `path` as grey pixels in [0, 1], light on dark. Its size is checked before it
// is decoded: at most `max_pixels`, and a file long enough for the pixels it promises.
std::vector<float> read_grey(const std::string& path, int& rows, int& cols, int64_t max_pixels) {
  int channels = 0;
  if (stbi_info(path.c_str(), &cols, &rows, &channels) == 1) {
    if (int64_t(rows) * int64_t(cols) > max_pixels) {
      throw InputError(path + ": a picture of " + std::to_string(cols) + " × " + std::to_string(rows) +
                       " pixels, more than the " + std::to_string(max_pixels) + " read (--max-pixels raises the limit)");
    }
    std::error_code error;
    const uint64_t size = std::filesystem::file_size(path, error);
    const uint64_t needed = uncompressed_bytes(path, rows, cols, channels);
    if (!error && size < needed) {
      throw InputError(path + ": truncated: its " + std::to_string(cols) + " × " + std::to_string(rows) +
                       " pixels need a file of at least " + std::to_string(needed) + " bytes, it has " + std::to_string(size));
    }
  }
  // grey + alpha, so a transparent background counts as paper
  unsigned char* data = stbi_load(path.c_str(), &cols, &rows, &channels, 2);
  if (data == nullptr) {
    const char* reason = stbi_failure_reason();
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) throw InputError(path + ": is a directory, not a picture");
    if (!std::filesystem::exists(path, error)) throw InputError(path + ": no such file");
    throw InputError(path + ": cannot read the image (" +
                     std::string(reason != nullptr && *reason != 0 ? reason : "truncated or damaged") +
                     "); expected PNG, binary PGM/PPM, JPEG or BMP, or an IDX file");
  }
  std::vector<float> pixels(static_cast<size_t>(rows) * static_cast<size_t>(cols));
  double border = 0;
  int border_count = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const size_t i = size_t(r) * size_t(cols) + size_t(c);
      const float alpha = data[2 * i + 1] / 255.0f;
      const float grey = data[2 * i] / 255.0f * alpha + (1.0f - alpha);  // over white
      pixels[i] = grey;
      if (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) {
        border += grey;
        ++border_count;
      }
    }
  }
  stbi_image_free(data);
  // MNIST and Fashion-MNIST images are light on dark: invert a picture on light paper
  if (border_count > 0 && border / border_count > 0.5) {
    for (float& p : pixels) p = 1.0f - p;
  }
  return pixels;
}
}  // namespace

Matrix read_digit_image(const std::string& path, int side, int64_t max_pixels) {
  int rows = 0, cols = 0;
  const std::vector<float> pixels = read_grey(path, rows, cols, max_pixels);
  return center_digit(pixels, rows, cols, side);
}

Matrix fit_image(const std::vector<float>& pixels, int rows, int cols, int out_rows, int out_cols) {
  Matrix out = Matrix::Zero(1, out_rows * out_cols);
  const double scale = std::min(static_cast<double>(out_rows) / rows, static_cast<double>(out_cols) / cols);
  const int h = std::clamp(static_cast<int>(std::lround(rows * scale)), 1, out_rows);
  const int w = std::clamp(static_cast<int>(std::lround(cols * scale)), 1, out_cols);
  const int oy = (out_rows - h) / 2, ox = (out_cols - w) / 2;
  // average sub × sub samples per output pixel when shrinking
  const int sub = std::max(1, static_cast<int>(std::ceil(1.0 / scale)));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      double sum = 0;
      for (int i = 0; i < sub; ++i) {
        for (int j = 0; j < sub; ++j) {
          sum += sample(pixels, rows, cols, (r + (i + 0.5) / sub) / scale - 0.5, (c + (j + 0.5) / sub) / scale - 0.5);
        }
      }
      out(0, (r + oy) * out_cols + c + ox) = std::clamp(static_cast<float>(sum / (sub * sub)), 0.0f, 1.0f);
    }
  }
  return out;
}

Matrix read_picture(const std::string& path, const DataDescription& data, int64_t max_pixels) {
  if (data.channels != 1) {
    throw InputError(path + ": pictures can be read for grey images only, the model takes " +
                     std::to_string(data.channels) + " channels; give an IDX file");
  }
  int rows = 0, cols = 0;
  const std::vector<float> pixels = read_grey(path, rows, cols, max_pixels);
  const int out_rows = static_cast<int>(data.rows), out_cols = static_cast<int>(data.cols);
  if (data.digits && out_rows == out_cols) return center_digit(pixels, rows, cols, out_rows);
  if (rows == out_rows && cols == out_cols) return Eigen::Map<const Matrix>(pixels.data(), 1, rows * cols);
  return fit_image(pixels, rows, cols, out_rows, out_cols);
}

}  // namespace gradflow
