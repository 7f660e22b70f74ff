#include "gradflow/data/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <filesystem>
#include <fstream>

#include "gradflow/data/digit.h"
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
uint32_t little_endian(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

// The bytes an uncompressed picture (binary PGM/PPM, BMP without compression) needs for its
// pixels; 0 for any other format. stb_image fills a short file's missing pixels with zeros.
uint64_t uncompressed_bytes(const std::string& bytes, int rows, int cols, int channels) {
  if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6')) {
    return uint64_t(rows) * uint64_t(cols) * uint64_t(channels);  // at least one byte a sample
  }
  if (bytes.size() >= 34 && bytes[0] == 'B' && bytes[1] == 'M') {
    const uint32_t offset = little_endian(bytes, 10, 4), bits = little_endian(bytes, 28, 2), compression = little_endian(bytes, 30, 4);
    if (compression != 0 && compression != 3) return 0;  // run-length encoded
    const uint64_t stride = (uint64_t(cols) * bits + 31) / 32 * 4;
    return offset + stride * uint64_t(rows);
  }
  return 0;
}

const unsigned char* unsigned_bytes(const std::string& bytes) { return reinterpret_cast<const unsigned char*>(bytes.data()); }

// The picture in `bytes` in colour, composited over white (a transparent background counts as
// paper). Its size is checked before it is decoded: at most `max_pixels`, and enough bytes for
// the pixels it promises.
ColourImage decode(const std::string& name, const std::string& bytes, int64_t max_pixels) {
  if (bytes.empty()) throw InputError(name + ": empty, not a picture");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw InputError(name + ": " + std::to_string(bytes.size()) + " bytes, too large for a picture");
  }
  const int length = static_cast<int>(bytes.size());
  int rows = 0, cols = 0, channels = 0;
  if (stbi_info_from_memory(unsigned_bytes(bytes), length, &cols, &rows, &channels) == 1) {
    if (int64_t(rows) * int64_t(cols) > max_pixels) {
      throw InputError(name + ": a picture of " + std::to_string(cols) + " × " + std::to_string(rows) +
                       " pixels, more than the " + std::to_string(max_pixels) + " read (--max-pixels raises the limit)");
    }
    const uint64_t needed = uncompressed_bytes(bytes, rows, cols, channels);
    if (bytes.size() < needed) {
      throw InputError(name + ": truncated: its " + std::to_string(cols) + " × " + std::to_string(rows) +
                       " pixels need a file of at least " + std::to_string(needed) + " bytes, it has " + std::to_string(bytes.size()));
    }
  }
  unsigned char* data = stbi_load_from_memory(unsigned_bytes(bytes), length, &cols, &rows, &channels, 4);
  if (data == nullptr) {
    const char* reason = stbi_failure_reason();
    throw InputError(name + ": cannot read the image (" +
                     std::string(reason != nullptr && *reason != 0 ? reason : "truncated or damaged") +
                     "); expected PNG, binary PGM/PPM, JPEG or BMP, or an IDX file");
  }
  ColourImage image;
  image.rows = rows, image.cols = cols;
  image.rgb.resize(size_t(rows) * size_t(cols) * 3);
  for (size_t i = 0; i < size_t(rows) * size_t(cols); ++i) {
    const float alpha = data[4 * i + 3] / 255.0f;
    for (size_t k = 0; k < 3; ++k) image.rgb[3 * i + k] = data[4 * i + k] / 255.0f * alpha + (1.0f - alpha);
  }
  stbi_image_free(data);
  return image;
}

// Grey as stb_image makes it (ITU-R 601 luma), light on dark: a picture whose border is light
// (paper) is inverted.
std::vector<float> grey_light_on_dark(const ColourImage& image) {
  const int rows = image.rows, cols = image.cols;
  std::vector<float> pixels(size_t(rows) * size_t(cols));
  double border = 0;
  int border_count = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const size_t i = size_t(r) * size_t(cols) + size_t(c);
      const float grey = (77.0f * image.rgb[3 * i] + 150.0f * image.rgb[3 * i + 1] + 29.0f * image.rgb[3 * i + 2]) / 256.0f;
      pixels[i] = grey;
      if (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) border += grey, ++border_count;
    }
  }
  // MNIST and Fashion-MNIST images are light on dark: invert a picture on light paper
  if (border_count > 0 && border / border_count > 0.5) {
    for (float& p : pixels) p = 1.0f - p;
  }
  return pixels;
}
}  // namespace

std::string read_picture_file(const std::string& path, int64_t max_pixels) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw InputError(path + ": is a directory, not a picture");
  if (!std::filesystem::exists(path, error)) throw InputError(path + ": no such file");
  // a picture holds at most 8 bytes a pixel (16-bit RGBA) besides its headers and comments
  const uint64_t limit = uint64_t(max_pixels) * 8 + (uint64_t(64) << 20);
  const uint64_t size = std::filesystem::file_size(path, error);
  if (!error && size > limit) {
    throw InputError(path + ": a file of " + std::to_string(size) + " bytes, more than a picture of " +
                     std::to_string(max_pixels) + " pixels holds (--max-pixels raises the limit)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the picture: " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path + ": cannot read the picture: " + std::strerror(errno));
  return bytes;
}

Matrix read_digit_image(const std::string& path, int side, int64_t max_pixels) {
  DataDescription digits;
  digits.rows = digits.cols = side;
  digits.digits = true;
  return read_picture(path, digits, max_pixels);
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

PreparedPicture prepare_picture(const std::string& name, const std::string& bytes, const DataDescription& data,
                                int64_t max_pixels) {
  if (data.channels != 1) {
    throw InputError(name + ": pictures can be read for grey images only, the model takes " +
                     std::to_string(data.channels) + " channels; give an IDX file");
  }
  const ColourImage image = decode(name, bytes, max_pixels);
  const int rows = image.rows, cols = image.cols;
  const int out_rows = static_cast<int>(data.rows), out_cols = static_cast<int>(data.cols);
  PreparedPicture out;
  if (rows == out_rows && cols == out_cols) {
    // already of the data's shape: taken as it is, only inverted when on light paper
    const std::vector<float> pixels = grey_light_on_dark(image);
    out.image = Eigen::Map<const Matrix>(pixels.data(), 1, rows * cols);
    if (data.digits && out.image.maxCoeff() <= 0.1f) out.digits = DigitCount::kNone, out.groups = 0;
    return out;
  }
  if (data.digits && out_rows == out_cols) {
    const FoundDigit digit = find_digit(image);
    out.digits = digit.count;
    out.groups = digit.groups;
    out.image = center_digit(digit.ink, digit.rows, digit.cols, out_rows);
    return out;
  }
  out.image = fit_image(grey_light_on_dark(image), rows, cols, out_rows, out_cols);
  return out;
}

Matrix read_picture(const std::string& path, const DataDescription& data, int64_t max_pixels) {
  return prepare_picture(path, read_picture_file(path, max_pixels), data, max_pixels).image;
}

std::string encode_picture(const Matrix& image, int rows, int cols, PictureFormat format) {
  std::string grey(size_t(rows) * size_t(cols), '\0');
  for (size_t i = 0; i < grey.size(); ++i) {
    grey[i] = static_cast<char>(std::lround(std::clamp(image.data()[i], 0.0f, 1.0f) * 255.0f));
  }
  if (format == PictureFormat::kPgm) return "P5\n" + std::to_string(cols) + " " + std::to_string(rows) + "\n255\n" + grey;
  std::string out;
  auto append = [](void* context, void* chunk, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(chunk), size_t(size));
  };
  if (stbi_write_png_to_func(append, &out, cols, rows, 1, grey.data(), cols) == 0) throw std::bad_alloc();
  return out;
}

}  // namespace gradflow
