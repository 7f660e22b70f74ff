#pragma once
// NumPy .npy files (format 1.0) for arrays gradflow hands to other tools, e.g. logits.
#include <string>

#include "gradflow/tensor.h"

namespace gradflow {

// Writes `matrix` as a float32 array of shape (rows, cols), C order, atomically.
void write_npy(const std::string& path, const Matrix& matrix);

}  // namespace gradflow
