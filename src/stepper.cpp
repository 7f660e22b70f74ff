#include "gradflow/stepper.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gradflow/softmax.h"

namespace gradflow {

using nlohmann::json;

TensorSummary summarize(const float* data, std::vector<int64_t> shape, bool keep_values) {
  TensorSummary s;
  s.shape = std::move(shape);
  int64_t n = 1;
  for (int64_t d : s.shape) n *= d;
  if (n > 0) {
    Eigen::Map<const Eigen::ArrayXf> a(data, n);
    s.norm = std::sqrt(a.cast<double>().square().sum());
    s.min = a.minCoeff();
    s.max = a.maxCoeff();
    s.mean = a.cast<double>().mean();
  }
  if (keep_values) s.values.assign(data, data + n);
  return s;
}

namespace {

TensorSummary summarize_matrix(const Matrix& m, bool keep) { return summarize(m.data(), {m.rows(), m.cols()}, keep); }

std::vector<Entry> largest_entries(const TensorView<float>& view, int64_t k) {
  std::vector<int64_t> order(static_cast<size_t>(view.size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  k = std::min<int64_t>(k, view.size());
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
    return std::fabs(view.gradient[a]) > std::fabs(view.gradient[b]);
  });
  std::vector<Entry> out;
  const int64_t cols = view.shape.size() == 2 ? view.shape[1] : 1;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t at = order[static_cast<size_t>(i)];
    out.push_back({view.shape.size() == 2 ? at / cols : at, view.shape.size() == 2 ? at % cols : -1, view.gradient[at]});
  }
  return out;
}

json summary_json(const TensorSummary& s, bool full) {
  json j{{"shape", s.shape}, {"norm", s.norm}, {"min", s.min}, {"mean", s.mean}, {"max", s.max}};
  if (full) j["values"] = s.values;
  return j;
}

}  // namespace

StepTrace trace_step(Sequential<float>& model, Optimizer& optimizer, const Matrix& x, const Labels& labels,
                     const StepOptions& options) {
  const bool keep = options.keep_values;
  StepTrace t;
  t.count = x.rows();
  t.labels = labels;
  t.inputs = x;
  t.temperature = model.head().temperature();
  t.label_smoothing = model.head().label_smoothing();

  if (options.check) t.check = check_gradients(model, x, labels, *options.check);

  // forward
  t.loss = model.forward_loss(x, labels);
  for (size_t i = 0; i < model.size(); ++i) {
    ForwardStage f{i, model.layer(i).type(), model.layer(i).formulas().forward, summarize_matrix(model.output(i), keep), -1};
    const GateStatistics gates = model.layer(i).gate_statistics(model.input(i), model.output(i));
    if (gates.blocked >= 0) f.zero_fraction = static_cast<double>(gates.blocked) / static_cast<double>(model.output(i).size());
    t.forward.push_back(std::move(f));
  }
  t.logits = model.output(model.size() - 1);
  t.probabilities = model.head().probabilities();
  model.head().sample_gradients(t.delta);  // (y_hat - q) / T: what backward passes on, times B
  t.targets = model.head().targets();
  const double inverse_temperature = 1.0 / t.temperature;
  for (Eigen::Index b = 0; b < t.logits.rows(); ++b) {
    // both forms, computed independently in double
    const auto z = t.logits.row(b).cast<double>();
    const auto q = t.targets.row(b).cast<double>();
    const LogSumExp<double> row = log_sum_exp(z, inverse_temperature);
    // logsumexp(z/T) - Σ q_k z_k/T = log s + Σ q_k (max - z_k)/T   (Σ q_k = 1)
    t.loss_logsumexp.push_back(row.log_sum + (q.array() * (row.max - z.array())).sum() * inverse_temperature);
    double negative_log = 0;
    for (Eigen::Index k = 0; k < z.size(); ++k) {
      if (q(k) > 0) negative_log -= q(k) * std::log(static_cast<double>(t.probabilities(b, k)));
    }
    t.loss_negative_log.push_back(negative_log);
    t.loss_per_sample.push_back(model.head().sample_losses()[b]);
  }

  // backward
  model.backward(&t.saliency);
  for (size_t i = model.size(); i-- > 0;) {
    Layer<float>& layer = model.layer(i);
    BackwardStage s;
    s.layer = i;
    s.type = layer.type();
    s.formula = layer.formulas().backward;
    s.delta = summarize_matrix(model.gradient_into(i), keep);
    s.passed_down = summarize_matrix(i > 0 ? model.gradient_into(i - 1) : t.saliency, keep);
    for (auto& p : layer.parameters()) {
      ParameterGradient g{std::to_string(i) + "." + p.name, summarize(p.gradient, p.shape, keep),
                          largest_entries(p, options.largest_entries)};
      s.parameters.push_back(std::move(g));
    }
    const GateStatistics gates = layer.gate_statistics(model.input(i), model.output(i));
    if (gates.blocked >= 0) {
      s.blocked = gates.blocked;
      s.passed = model.output(i).size() - gates.blocked;
    }
    t.backward.push_back(std::move(s));
  }

  if (options.weight) t.weight = trace_weight(model, x, labels, *options.weight);

  // update
  t.learning_rate = options.learning_rate;
  t.optimizer = optimizer.options();
  t.optimizer_formula = optimizer.update_rule();
  t.optimizer_terms = optimizer.terms(options.learning_rate);
  t.state_was_empty = true;
  for (const auto& s : optimizer.state()) {
    t.state_symbols.push_back(s.symbol);
    if (std::any_of(s.block.begin(), s.block.end(), [](float e) { return e != 0.0f; })) t.state_was_empty = false;
  }
  std::vector<std::vector<float>> before;
  for (const auto& p : optimizer.parameters()) before.emplace_back(p.value, p.value + p.size());
  optimizer.step(options.learning_rate);
  for (size_t k = 0; k < optimizer.parameters().size(); ++k) {
    const auto& p = optimizer.parameters()[k];
    Eigen::Map<const Eigen::ArrayXf> old(before[k].data(), p.size()), now(p.value, p.size());
    ParameterUpdate u{p.name, p.shape, std::sqrt(old.cast<double>().square().sum()),
                      std::sqrt((now - old).cast<double>().square().sum()), {}, {}, {}};
    for (const auto& s : optimizer.state()) u.state.emplace_back(s.name, summarize(s.of(k), p.shape, keep));
    if (keep) {
      u.before = before[k];
      u.after.assign(p.value, p.value + p.size());
    }
    t.updates.push_back(std::move(u));
  }
  // the optimizer's views are named locally ("weight"): use the model's names
  auto named = model.parameters();
  for (size_t k = 0; k < t.updates.size() && k < named.size(); ++k) t.updates[k].name = named[k].name;

  if (t.weight) {
    for (auto& p : model.parameters()) {
      if (p.name == t.weight->entry.name) {
        const int64_t cols = p.shape.size() == 2 ? p.shape[1] : 1;
        t.weight->after = p.value[t.weight->entry.row * cols + std::max<int64_t>(t.weight->entry.col, 0)];
      }
    }
  }
  t.loss_after = model.forward_loss(x, labels);
  t.probabilities_after = model.head().probabilities();
  for (Eigen::Index b = 0; b < x.rows(); ++b) t.loss_after_per_sample.push_back(model.head().sample_losses()[b]);
  return t;
}

json StepTrace::to_json(bool full) const {
  json samples = json::array();
  for (Eigen::Index b = 0; b < labels.size(); ++b) {
    std::vector<float> onehot(static_cast<size_t>(logits.cols()), 0.0f);
    onehot[static_cast<size_t>(labels[b])] = 1.0f;
    json s{{"index", b < static_cast<Eigen::Index>(indices.size()) ? indices[static_cast<size_t>(b)] : b},
           {"label", labels[b]},
           {"logits", std::vector<float>(logits.row(b).data(), logits.row(b).data() + logits.cols())},
           {"y_hat", std::vector<float>(probabilities.row(b).data(), probabilities.row(b).data() + probabilities.cols())},
           {"y", onehot},
           {"q", std::vector<float>(targets.row(b).data(), targets.row(b).data() + targets.cols())},
           {"delta", std::vector<float>(delta.row(b).data(), delta.row(b).data() + delta.cols())},
           {"loss", loss_per_sample[static_cast<size_t>(b)]},
           {"loss_negative_log_y_hat", loss_negative_log[static_cast<size_t>(b)]},
           {"loss_logsumexp", loss_logsumexp[static_cast<size_t>(b)]},
           {"loss_after", loss_after_per_sample[static_cast<size_t>(b)]},
           {"y_hat_after", std::vector<float>(probabilities_after.row(b).data(),
                                              probabilities_after.row(b).data() + probabilities_after.cols())}};
    if (label_smoothing > 0) s["target"] = s["q"];  // the explorer draws it beside y
    samples.push_back(std::move(s));
  }
  json fwd = json::array();
  for (const auto& f : forward) {
    json j{{"layer", f.layer}, {"type", f.type}, {"formula", f.formula}, {"output", summary_json(f.output, full)}};
    if (f.zero_fraction >= 0) j["zero_fraction"] = f.zero_fraction;
    fwd.push_back(std::move(j));
  }
  json bwd = json::array();
  for (const auto& s : backward) {
    json j{{"layer", s.layer}, {"type", s.type}, {"formula", s.formula}, {"delta", summary_json(s.delta, full)},
           {"passed_down", summary_json(s.passed_down, full)}};
    for (const auto& p : s.parameters) {
      json largest = json::array();
      for (const auto& e : p.largest) largest.push_back({{"row", e.row}, {"col", e.col}, {"value", e.value}});
      j["parameters"][p.name] = summary_json(p.gradient, full);
      j["parameters"][p.name]["largest"] = largest;
    }
    if (s.passed >= 0) {
      j["passed"] = s.passed;
      j["blocked"] = s.blocked;
    }
    bwd.push_back(std::move(j));
  }
  json upd = json::array();
  for (const auto& u : updates) {
    json j{{"name", u.name}, {"shape", u.shape}, {"weight_norm", u.weight_norm}, {"delta_norm", u.delta_norm},
           {"relative", u.weight_norm > 0 ? u.delta_norm / u.weight_norm : 0.0}};
    for (const auto& [name, summary] : u.state) j["state"][name] = summary_json(summary, full);
    if (full) {
      j["before"] = u.before;
      j["after"] = u.after;
    }
    upd.push_back(std::move(j));
  }
  json terms_json = json::object();
  for (const auto& [name, value] : optimizer_terms) {
    // a count (Adam's t) as an integer
    if (value == std::floor(value) && std::fabs(value) < 9e15) {
      terms_json[name] = static_cast<int64_t>(value);
    } else {
      terms_json[name] = value;
    }
  }
  json out{{"count", count},
           {"samples", samples},
           {"temperature", temperature},
           {"label_smoothing", label_smoothing},
           {"delta_is", "per sample, before the batch mean: (y_hat - q) / T; the head passes delta / count back"},
           {"loss_before", loss},
           {"loss_after", loss_after},
           {"forward", fwd},
           {"backward", bwd},
           {"saliency", summary_json(summarize_matrix(saliency, full), full)},
           {"update",
            {{"lr", learning_rate},
             {"optimizer", optimizer},
             {"formula", optimizer_formula},
             {"terms", terms_json},
             {"state_was_empty", state_was_empty},
             {"parameters", upd}}}};
  out["input"] = summary_json(summarize_matrix(inputs, full), full);
  if (check) {
    out["check"] = check->to_json();
    if (full) out["check"]["entries"] = check->entries_json();
  }
  if (weight) {
    const WeightDrill& w = *weight;
    json terms = json::array();
    for (size_t b = 0; b < w.terms.size(); ++b) {
      json term{{"index", b < indices.size() ? indices[b] : static_cast<int64_t>(b)}, {"term", w.terms[b]},
                {"numeric", w.numeric_terms[b]}};
      if (w.factored) {
        term["dy"] = w.dy[b];
        term["x"] = w.x[b];
      }
      terms.push_back(std::move(term));
    }
    out["weight"] = {{"name", w.entry.name},
                     {"row", w.entry.row},
                     {"col", w.entry.col},
                     {"gradient", w.gradient},
                     {"numeric", w.numeric},
                     {"relative_error", relative_error(w.gradient, w.numeric, GradCheckOptions{}.floor)},
                     {"numeric_in_eval", w.numeric_in_eval},
                     {"before", w.before},
                     {"after", w.after},
                     {"update", w.after - w.before},
                     {"terms", terms}};
  }
  return out;
}

StepSummary summarize_step(const StepTrace& t, int64_t step) {
  StepSummary s;
  s.step = step;
  s.loss_before = t.loss;
  s.loss_after = t.loss_after;
  for (Eigen::Index b = 0; b < t.labels.size(); ++b) s.y_hat_y.push_back(t.probabilities(b, t.labels[b]));
  for (const auto& u : t.updates) {
    StepSummary::Tensor tensor{u.name, 0, u.weight_norm > 0 ? u.delta_norm / u.weight_norm : 0.0};
    for (const auto& stage : t.backward) {
      for (const auto& p : stage.parameters) {
        if (p.name == u.name) tensor.gradient_norm = p.gradient.norm;
      }
    }
    s.tensors.push_back(tensor);
  }
  return s;
}

json StepSummary::to_json() const {
  json tensors_json = json::array();
  for (const auto& t : tensors) {
    tensors_json.push_back({{"name", t.name}, {"gradient_norm", t.gradient_norm}, {"relative_update", t.relative_update}});
  }
  return {{"step", step}, {"loss_before", loss_before}, {"loss_after", loss_after}, {"y_hat_y", y_hat_y},
          {"parameters", tensors_json}};
}

}  // namespace gradflow
