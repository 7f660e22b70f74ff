#pragma once
// Reading a picture (PNG, PGM, JPEG, BMP, ... through stb_image) into the format of the training
// data: grey pixels in [0, 1], light on a black background. For digits, the digit is found on the
// photo (paper, light and ink colour removed; digit.h) and centred like MNIST's (the ink's
// bounding box scaled to fit 20 × 20 inside 28 × 28, then centred by its centre of mass); any
// other picture — a photo of a shoe for Fashion-MNIST — is made grey (inverted when its border is
// light), scaled whole to fit rows × cols and centred, never cropped to its ink. A picture
// already of the data's shape is taken as it is (inverted when on light paper).
#include <cstdint>
#include <string>
#include <vector>

#include "gradflow/data/digit.h"
#include "gradflow/data/source.h"
#include "gradflow/tensor.h"

namespace gradflow {

// Pictures larger than this are refused before they are decoded: a 40-megapixel photo.
constexpr int64_t kDefaultMaxPixels = 40'000'000;

// A picture as the model sees it, and what was found on it.
struct PreparedPicture {
  Matrix image;                          // (1, rows * cols), light on black in [0, 1]
  DigitCount digits = DigitCount::kOne;  // digit data: kNone on a blank page, kSeveral on "42"
  int groups = 1;                        // groups of ink the size of a digit
};

// The picture encoded in `bytes` (named `name` in messages) in the shape `data` describes.
// InputError naming it when it cannot be decoded, holds more than `max_pixels` pixels, is shorter
// than its pixels need, or when the data has several channels (give an IDX file then).
PreparedPicture prepare_picture(const std::string& name, const std::string& bytes, const DataDescription& data,
                                int64_t max_pixels = kDefaultMaxPixels);

// The bytes of the picture file at `path`; InputError "PATH: no such file", "…: is a directory",
// or a file larger than a picture of `max_pixels` pixels can be.
std::string read_picture_file(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

// One picture in the shape `data` describes, centred as a digit only when data.digits:
// (1, rows * cols). InputError naming the file when it cannot be read, holds more than
// `max_pixels` pixels, is shorter than its pixels need, or when the data has several channels
// (give an IDX file then).
Matrix read_picture(const std::string& path, const DataDescription& data, int64_t max_pixels = kDefaultMaxPixels);

// Returns (1, side * side); InputError naming the file when it cannot be read.
Matrix read_digit_image(const std::string& path, int side = 28, int64_t max_pixels = kDefaultMaxPixels);

// Grey pixels (rows × cols, row-major, values in [0, 1], background 0) to the centred side × side form.
Matrix center_digit(const std::vector<float>& pixels, int rows, int cols, int side = 28);

// Grey pixels (rows × cols) scaled whole, aspect kept, to fit out_rows × out_cols, centred on
// black: (1, out_rows * out_cols).
Matrix fit_image(const std::vector<float>& pixels, int rows, int cols, int out_rows, int out_cols);

enum class PictureFormat { kPng, kPgm };

// `image` (rows × cols values in [0, 1], row-major) as an 8-bit grey PNG or binary PGM file.
std::string encode_picture(const Matrix& image, int rows, int cols, PictureFormat format);

}  // namespace gradflow
