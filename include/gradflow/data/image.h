#pragma once
// Reading a picture of a digit (PNG, PGM, JPEG, BMP, ... through stb_image) into the format of
// the training data: side × side grey pixels in [0, 1], a white digit on black, centred like
// MNIST's (the digit's bounding box scaled to fit 20 × 20 inside 28 × 28, then centred by its
// centre of mass). A dark digit on a light background is inverted first.
#include <string>

#include "gradflow/tensor.h"

namespace gradflow {

// Returns (1, side * side); InputError naming the file when it cannot be read.
Matrix read_digit_image(const std::string& path, int side = 28);

// Grey pixels (rows × cols, row-major, values in [0, 1], background 0) to the centred side × side form.
Matrix center_digit(const std::vector<float>& pixels, int rows, int cols, int side = 28);

}  // namespace gradflow
