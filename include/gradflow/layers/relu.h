#pragma once
// ReLU:  y = max(x, 0)      backward:  dx = dy where y > 0, else 0
#include "gradflow/layer.h"

namespace gradflow {

template <typename Scalar>
class ReLU : public Layer<Scalar> {
 public:
  using typename Layer<Scalar>::Mat;
  using typename Layer<Scalar>::ConstRef;

  explicit ReLU(int64_t size) : size_(size) {}
  ReLU(const nlohmann::json& /*args*/, int64_t input) : size_(input) {}

  std::string type() const override { return "relu"; }
  nlohmann::json describe() const override { return {{"type", "relu"}}; }
  int64_t input_size() const override { return size_; }
  int64_t output_size() const override { return size_; }

  void forward(const ConstRef& x, Mat& y) override;
  void backward(const ConstRef& dy, Mat* dx) override;

  // The last forward's output; units with output 0 block the gradient.
  const Mat& output() const { return output_; }

 private:
  int64_t size_;
  Mat output_;  // (B, size): cached by forward; backward needs only its sign
};

}  // namespace gradflow
