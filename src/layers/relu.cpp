#include "gradflow/layers/relu.h"

#include "gradflow/layer_registry.h"
#include "gradflow/parallel.h"

namespace gradflow {

template <typename Scalar>
void ReLU<Scalar>::forward(const ConstRef& x, Mat& y) {
  // x, y: (B, size)
  y.resize(x.rows(), x.cols());
  for_row_blocks(x.rows(), x.cols(), [&](int64_t begin, int64_t end) {
    y.middleRows(begin, end - begin) = x.middleRows(begin, end - begin).cwiseMax(Scalar(0));
  });
}

template <typename Scalar>
void ReLU<Scalar>::backward(const ConstRef& /*x*/, const ConstRef& y, const ConstRef& dy, Mat* dx) {
  // dx = dy * 1[y > 0]
  if (dx == nullptr) return;
  dx->resize(dy.rows(), dy.cols());
  for_row_blocks(dy.rows(), dy.cols(), [&](int64_t begin, int64_t end) {
    dx->middleRows(begin, end - begin) =
        (y.middleRows(begin, end - begin).array() > Scalar(0)).select(dy.middleRows(begin, end - begin), Scalar(0));
  });
}

template <typename Scalar>
GateStatistics ReLU<Scalar>::gate_statistics(const ConstRef& /*x*/, const ConstRef& y) const {
  GateStatistics s;
  s.blocked = y.size() - static_cast<int64_t>((y.array() > Scalar(0)).count());
  const auto alive = (y.array() > Scalar(0)).colwise().any();
  s.dead_fraction = y.cols() > 0 ? 1.0 - static_cast<double>(alive.count()) / static_cast<double>(y.cols()) : 0.0;
  return s;
}

template class ReLU<float>;
template class ReLU<double>;

GRADFLOW_REGISTER_LAYER(ReLU, "relu", "rectified linear unit: y = max(x, 0)", {});

}  // namespace gradflow
