#pragma once
// The shared shape of element-wise activations: as many outputs as inputs, no parameters.
// Each activation (relu.h, tanh.h, ...) derives from it and writes its own forward and backward.
#include "gradflow/layer.h"

namespace gradflow {

template <typename Scalar>
class Activation : public Layer<Scalar> {
 public:
  explicit Activation(int64_t size) : size_(size) {}
  int64_t input_size() const override { return size_; }
  int64_t output_size() const override { return size_; }

 private:
  int64_t size_;
};

}  // namespace gradflow
