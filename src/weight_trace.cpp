#include "gradflow/weight_trace.h"

#include <algorithm>
#include <numeric>

#include "gradflow/errors.h"
#include "gradflow/gradcheck.h"

namespace gradflow {

WeightEntry parse_weight_entry(const std::string& text) {
  // NAME[ROW,COL] or NAME[I]
  const size_t open = text.find('['), close = text.size() - 1;
  const auto bad = [&]() {
    return InputError("--weight " + text + ": expected a parameter and an entry, like 2.weight[3,17] or 2.bias[3]");
  };
  if (open == std::string::npos || open == 0 || text.back() != ']') throw bad();
  WeightEntry e;
  e.name = text.substr(0, open);
  const std::string inside = text.substr(open + 1, close - open - 1);
  const size_t comma = inside.find(',');
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) throw bad();
    return static_cast<int64_t>(std::stoll(s));
  };
  e.row = number(inside.substr(0, comma));
  if (comma != std::string::npos) e.col = number(inside.substr(comma + 1));
  return e;
}

// The per-sample terms of one gradient entry, and its central difference in double. Runs after
// the model's backward; leaves the model's gradients as they were.
WeightDrill trace_weight(Sequential<float>& model, const Matrix& x, const Labels& labels, const WeightEntry& entry) {
  WeightDrill d;
  d.entry = entry;
  const size_t dot = entry.name.find('.');
  const std::string index_text = entry.name.substr(0, dot);
  size_t layer_index = model.size();  // none, unless the name starts with a layer's index
  if (!index_text.empty() && index_text.size() < 10 && index_text.find_first_not_of("0123456789") == std::string::npos) {
    layer_index = std::stoul(index_text);
  }
  std::vector<TensorView<float>> views = layer_index < model.size() ? model.layer(layer_index).parameters() : std::vector<TensorView<float>>{};
  const std::string local = dot == std::string::npos ? "" : entry.name.substr(dot + 1);
  auto found = std::find_if(views.begin(), views.end(), [&](const auto& v) { return v.name == local; });
  if (found == views.end()) {
    std::string names;
    for (const auto& p : model.parameters()) names += (names.empty() ? "" : ", ") + p.name;
    throw InputError("--weight " + entry.name + ": the model has no such parameter (it has " + names + ")");
  }
  const TensorView<float>& view = *found;
  d.entry.name = std::to_string(layer_index) + "." + local;  // "02.weight" is 2.weight
  const bool matrix = view.shape.size() == 2;
  const int64_t rows = view.shape[0], cols = matrix ? view.shape[1] : 1;
  if ((entry.col >= 0) != matrix || entry.row < 0 || entry.row >= rows || (matrix && (entry.col < 0 || entry.col >= cols))) {
    throw InputError("--weight " + entry.name + (matrix ? "[row,col]" : "[i]") + ": the tensor's shape is (" +
                     std::to_string(rows) + (matrix ? ", " + std::to_string(cols) : "") + "), indices start at 0");
  }
  const int64_t at = entry.row * cols + (matrix ? entry.col : 0);
  Layer<float>& layer = model.layer(layer_index);
  d.gradient = view.gradient[at];
  d.factored = matrix && rows == layer.output_size() && cols == layer.input_size();

  // sample b's term: the layer's backward on b's row of dy alone (parameter gradients are sums over rows)
  std::vector<std::vector<float>> saved;
  for (const auto& v : views) saved.emplace_back(v.gradient, v.gradient + v.size());
  const Matrix& dy = model.gradient_into(layer_index);
  const Matrix input = model.input(layer_index);
  for (Eigen::Index b = 0; b < dy.rows(); ++b) {
    Matrix alone = Matrix::Zero(dy.rows(), dy.cols());
    alone.row(b) = dy.row(b);
    layer.backward(input, model.output(layer_index), alone, nullptr);
    d.terms.push_back(view.gradient[at]);
    if (d.factored) {
      d.dy.push_back(dy(b, entry.row));
      d.x.push_back(input(b, entry.col));
    }
  }
  for (size_t k = 0; k < views.size(); ++k) std::copy(saved[k].begin(), saved[k].end(), views[k].gradient);

  // the central difference of each sample's loss, in double, as check_gradients does
  Sequential<double> twin(model.describe());
  copy_state(model, twin);
  bool deterministic = true;
  for (size_t i = 0; i < twin.size(); ++i) deterministic = deterministic && twin.layer(i).deterministic_in_training();
  twin.set_training(deterministic);
  d.numeric_in_eval = !deterministic;
  double* value = nullptr;
  for (auto& p : twin.parameters()) {
    if (p.name == d.entry.name) value = p.value + at;
  }
  const MatrixT<double> xd = x.cast<double>();
  const double h = GradCheckOptions{}.step, saved_value = *value;
  *value = saved_value + h;
  twin.forward_loss(xd, labels);
  const Eigen::VectorXd plus = twin.head().sample_losses();
  *value = saved_value - h;
  twin.forward_loss(xd, labels);
  const Eigen::VectorXd minus = twin.head().sample_losses();
  *value = saved_value;
  const double batch = static_cast<double>(x.rows());
  for (Eigen::Index b = 0; b < x.rows(); ++b) d.numeric_terms.push_back((plus[b] - minus[b]) / (2 * h) / batch);
  d.numeric = std::accumulate(d.numeric_terms.begin(), d.numeric_terms.end(), 0.0);
  d.before = view.value[at];
  return d;
}

}  // namespace gradflow
