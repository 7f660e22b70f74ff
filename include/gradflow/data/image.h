#pragma once
// Reading a picture (PNG, PGM, JPEG, BMP, ... through stb_image) into the format of the training
// data: grey pixels in [0, 1], light on a black background (a picture on light paper is inverted
// first). Digits are centred like MNIST's (the ink's bounding box scaled to fit 20 × 20 inside
// 28 × 28, then centred by its centre of mass); any other picture — a photo of a shoe for
// Fashion-MNIST — is scaled whole to fit rows × cols and centred, never cropped to its ink.
#include <cstdint>
#include <string>
#include <vector>

#include "gradflow/data/source.h"
#include "gradflow/tensor.h"

namespace gradflow {

// Pictures larger than this are refused before they are decoded: a 40-megapixel photo.
constexpr int64_t kDefaultMaxPixels = 40'000'000;

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

}  // namespace gradflow
