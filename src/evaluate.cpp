#include "gradflow/evaluate.h"

#include <algorithm>

#include "gradflow/progress.h"

namespace gradflow {

EvalResult evaluate(Sequential<float>& model, const Dataset& data, int64_t batch_size, Communicator* ranks) {
  model.set_training(false);
  EvalResult result;
  double loss_sum = 0.0;
  int64_t correct = 0;
  const RowRange mine = ranks != nullptr ? rank_rows(data.size(), ranks->rank(), ranks->size()) : RowRange{0, data.size()};
  ProgressTask task("evaluating", mine.size(), "images");
  for (int64_t begin = mine.begin; begin < mine.end; begin += batch_size) {
    task.advance(begin - mine.begin);
    const int64_t n = std::min(batch_size, mine.end - begin);
    loss_sum += model.forward_loss(data.images.middleRows(begin, n), data.labels.segment(begin, n)) *
                static_cast<double>(n);
    correct += model.head().correct();
  }
  model.set_training(true);
  if (ranks != nullptr && ranks->distributed()) {
    double sums[2] = {loss_sum, static_cast<double>(correct)};
    ranks->sum(sums, 2);
    loss_sum = sums[0];
    correct = static_cast<int64_t>(sums[1]);
  }
  result.count = data.size();
  if (result.count > 0) {
    result.loss = loss_sum / static_cast<double>(result.count);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.count);
  }
  return result;
}

Matrix predict_logits(Sequential<float>& model, const Matrix& images, int64_t batch_size) {
  model.set_training(false);
  Matrix logits(images.rows(), model.classes());
  ProgressTask task("predicting", images.rows(), "images");
  for (int64_t begin = 0; begin < images.rows(); begin += batch_size) {
    task.advance(begin);
    const int64_t n = std::min<int64_t>(batch_size, images.rows() - begin);
    logits.middleRows(begin, n) = model.forward(images.middleRows(begin, n));
  }
  model.set_training(true);
  return logits;
}

}  // namespace gradflow
