#include "gradflow/data/image.h"

#include <stb_image.h>

#include <algorithm>
#include <cmath>

#include "gradflow/errors.h"

namespace gradflow {

namespace {
// Bilinear sample of `pixels` at (y, x), zero outside.
float sample(const std::vector<float>& pixels, int rows, int cols, double y, double x) {
  const int y0 = static_cast<int>(std::floor(y)), x0 = static_cast<int>(std::floor(x));
  const double fy = y - y0, fx = x - x0;
  auto at = [&](int r, int c) -> double {
    return r < 0 || c < 0 || r >= rows || c >= cols ? 0.0 : pixels[static_cast<size_t>(r * cols + c)];
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
      if (pixels[static_cast<size_t>(r * cols + c)] > 0.1f) {
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

Matrix read_digit_image(const std::string& path, int side) {
  int cols = 0, rows = 0, channels = 0;
  // grey + alpha, so a transparent background counts as paper
  unsigned char* data = stbi_load(path.c_str(), &cols, &rows, &channels, 2);
  if (data == nullptr) {
    throw InputError(path + ": cannot read the image (" + std::string(stbi_failure_reason()) +
                     "); expected PNG, PGM, JPEG or BMP, or an IDX file");
  }
  std::vector<float> pixels(static_cast<size_t>(rows) * static_cast<size_t>(cols));
  double border = 0;
  int border_count = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
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
  // MNIST digits are light on dark: invert a dark digit on light paper
  if (border_count > 0 && border / border_count > 0.5) {
    for (float& p : pixels) p = 1.0f - p;
  }
  return center_digit(pixels, rows, cols, side);
}

}  // namespace gradflow
