#include "step_view.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace gradflow::cli {

namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

std::string pad(const std::string& text, size_t width) {
  return text + std::string(width > display_width(text) ? width - display_width(text) : 0, ' ');
}

// "a = 1   b = 2   ..." on lines of at most `columns`, each starting with `indent`.
// Later lines start with `continued` (default: `indent`).
std::string wrap_items(const std::vector<std::string>& items, const std::string& indent, size_t columns,
                       const std::string& gap = "   ", const std::string& continued = "") {
  std::string out, line;
  for (const auto& item : items) {
    if (!line.empty() && display_width(line) + display_width(gap) + display_width(item) > columns) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? (out.empty() || continued.empty() ? indent : continued) : gap) + item;
  }
  return line.empty() ? out : out + line + "\n";
}

// Rows of cells in columns as wide as their widest cell, `gap` spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent, size_t gap) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], display_width(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t c = 0; c < row.size(); ++c) line += c + 1 < row.size() ? pad(row[c], widths[c] + gap) : row[c];
    out += line + "\n";
  }
  return out;
}

std::string stats_text(const TensorSummary& s) {
  return format("%-11s norm %-9.4g min %-9.4g mean %-9.4g max %.4g", shape_text(s.shape).c_str(), s.norm, s.min,
                s.mean, s.max);
}

// `label` and the statistics on one line when they fit `width`, else the statistics on the next
// line, indented by `indent` columns.
std::string labelled_stats(const std::string& label, const TensorSummary& s, size_t indent, size_t width) {
  const std::string stats = stats_text(s);
  if (display_width(label) + display_width(stats) <= width) return label + stats + "\n";
  return label.substr(0, label.find_last_not_of(' ') + 1) + "\n" + std::string(indent, ' ') + stats + "\n";
}

// Shading of |v| / scale, two characters per pixel so the image keeps its aspect ratio.
std::string draw(const float* values, int64_t rows, int64_t cols, float scale, bool signed_colors) {
  static const char ramp[] = " .:-=+*#%@";
  std::string out;
  for (int64_t r = 0; r < rows; ++r) {
    out += "    ";
    for (int64_t c = 0; c < cols; ++c) {
      const float v = values[r * cols + c];
      const float level = scale > 0 ? std::min(std::fabs(v) / scale, 1.0f) : 0.0f;
      const char ch = ramp[static_cast<int>(std::lround(level * 9))];
      if (signed_colors && ch != ' ') out += v > 0 ? "\033[31m" : "\033[34m";
      out += ch;
      out += ch;
      if (signed_colors && ch != ' ') out += "\033[0m";
    }
    out += "\n";
  }
  return out;
}

std::string bar(double fraction, size_t width) {
  const auto n = static_cast<size_t>(std::lround(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(width)));
  std::string s;
  for (size_t i = 0; i < n; ++i) s += "█";
  return s;
}

// Each layer type's formula once, in the order the types first appear: "  dense   y = x·Wᵀ + b",
// a formula's further lines under its first.
template <typename Stage>
std::string formulas_text(const std::vector<Stage>& stages) {
  std::vector<std::pair<std::string, std::string>> seen;
  size_t width = 0;
  for (const auto& stage : stages) {
    if (std::none_of(seen.begin(), seen.end(), [&](const auto& s) { return s.first == stage.type; })) {
      seen.emplace_back(stage.type, stage.formula);
      width = std::max(width, display_width(stage.type));
    }
  }
  std::string out;
  for (const auto& [type, formula] : seen) {
    std::string prefix = "  " + pad(type, width + 2);
    size_t start = 0;
    for (;;) {
      const size_t end = formula.find('\n', start);
      out += prefix + formula.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
      if (end == std::string::npos) break;
      start = end + 1;
      prefix = std::string(width + 4, ' ');
    }
  }
  return out;
}

int64_t shown(const StepTrace& t, const ViewOptions& o) { return std::min(t.count, o.max_samples); }

std::string more(const StepTrace& t, const ViewOptions& o) {
  return t.count > o.max_samples ? format("  (%lld more samples in --json)\n", static_cast<long long>(t.count - o.max_samples))
                                 : "";
}

std::string sample_header(const StepTrace& t, int64_t b, const std::vector<std::string>& class_names) {
  const long long index = b < static_cast<int64_t>(t.indices.size()) ? static_cast<long long>(t.indices[static_cast<size_t>(b)]) : b;
  const auto label = static_cast<size_t>(t.labels[b]);
  const bool named = static_cast<int64_t>(class_names.size()) == t.logits.cols() && class_names[label] != std::to_string(label);
  return format("sample %lld (label %d", index, t.labels[b]) + (named ? ": " + class_names[label] : "") + ")";
}

const TensorCheck* check_of(const StepTrace& t, const std::string& name) {
  if (!t.check) return nullptr;
  for (const auto& c : t.check->tensors) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string check_text(const StepTrace& t, const std::string& name) {
  const TensorCheck* c = check_of(t, name);
  if (c == nullptr) return "";
  const bool ok = c->max_relative_error <= t.check->tolerance;
  return format("      finite differences (double, %lld entries): worst relative error %.2e %s\n",
                static_cast<long long>(c->checked), c->max_relative_error, ok ? "ok" : "FAILED");
}

}  // namespace

std::vector<Page> step_pages(const StepTrace& t, const ViewOptions& o) {
  std::vector<Page> pages;
  const size_t width = static_cast<size_t>(std::max<int64_t>(o.width, 40));
  const bool drawn = o.rows > 0 && o.cols > 0 && o.rows * o.cols == t.inputs.cols();
  const int64_t classes = t.logits.cols();
  const bool named = static_cast<int64_t>(o.class_names.size()) == classes;
  auto name = [&](int64_t k) { return named ? o.class_names[static_cast<size_t>(k)] : std::to_string(k); };

  {  // 1. input
    std::string s = "x: the pixels scaled to [0, 1] (normalised as the config says), a row per sample\n";
    s += "input " + stats_text(summarize(t.inputs.data(), {t.inputs.rows(), t.inputs.cols()}, false)) + "\n\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + "\n";
      if (drawn) {
        const float scale = std::max(t.inputs.row(b).cwiseAbs().maxCoeff(), 1e-12f);
        s += draw(t.inputs.row(b).data(), o.rows, o.cols, scale, false);
      }
    }
    pages.push_back({"the input", s + more(t, o)});
  }
  {  // 2. forward
    std::string s = formulas_text(t.forward) + "\n";
    for (const auto& f : t.forward) {
      s += labelled_stats(format("  %2zu %s -> ", f.layer, pad(f.type, 8).c_str()), f.output, 8, width);
      if (f.zero_fraction >= 0) s += format("              %.1f%% of the units are 0 (they will block the gradient)\n", 100 * f.zero_fraction);
    }
    pages.push_back({"forward, layer by layer", s});
  }
  {  // 3. logits
    std::string s = "z: the last layer's output, one score per class (not yet probabilities)\n\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + "\n";
      for (int64_t k = 0; k < classes; ++k) {
        s += format("    z[%lld] = %9.4f", static_cast<long long>(k), t.logits(b, k)) + (named ? "  " + name(k) : "") + "\n";
      }
    }
    pages.push_back({"the logits z", s + more(t, o)});
  }
  {  // 4. softmax
    // "    name ← ████      0.7548": the bar takes what the width leaves, at most 40 columns
    size_t name_width = 1;
    for (int64_t k = 0; k < classes; ++k) name_width = std::max(name_width, display_width(name(k)));
    const size_t bar_width = std::clamp<size_t>(width > name_width + 15 ? width - name_width - 15 : 10, 10, 40);
    std::string s = t.temperature == 1.0 ? "ŷ_k = exp(z_k) / Σ_j exp(z_j)\n\n"
                                          : format("ŷ_k = exp(z_k / T) / Σ_j exp(z_j / T),  T = %.4g\n\n", t.temperature);
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + "\n";
      for (int64_t k = 0; k < classes; ++k) {
        s += "    " + pad(name(k), name_width) + (k == t.labels[b] ? " ← " : "   ") + pad(bar(t.probabilities(b, k), bar_width), bar_width) +
             format(" %.4f\n", t.probabilities(b, k));
      }
    }
    pages.push_back({"the softmax ŷ", s + more(t, o)});
  }
  const bool plain_head = t.temperature == 1.0 && t.label_smoothing == 0.0;
  // q and T as the text names them, when the head is not the plain one
  const std::string head_terms =
      (t.label_smoothing > 0 ? format("q = (1 − e)·onehot(y) + e/C,  e = %.4g, C = %lld", t.label_smoothing,
                                      static_cast<long long>(classes))
                             : std::string("q = onehot(y)")) +
      (t.temperature != 1.0 ? format(",  T = %.4g", t.temperature) : "");
  {  // 5. loss
    std::string s;
    if (plain_head) {
      s = "L = −log ŷ_y = logsumexp(z) − z_y     (the batch loss is the mean over samples)\n\n";
    } else {
      s = "L_b = −Σ_k q_k log ŷ_k = logsumexp(z/T) − Σ_k q_k z_k/T\n  " + head_terms +
          "\n  (the batch loss is the mean over samples)\n\n";
    }
    const char* negative_log = t.label_smoothing > 0 ? "−Σ q log ŷ" : "−log ŷ_y";
    const char* logsumexp_form = t.label_smoothing > 0 ? (t.temperature != 1.0 ? "lse(z/T) − q·z/T" : "lse(z) − q·z")
                                                        : (t.temperature != 1.0 ? "lse(z/T) − z_y/T" : "logsumexp(z) − z_y");
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += format("  %s:  %s = %.6f    %s = %.6f\n", sample_header(t, b, o.class_names).c_str(), negative_log,
                  t.loss_negative_log[static_cast<size_t>(b)], logsumexp_form, t.loss_logsumexp[static_cast<size_t>(b)]);
    }
    s += more(t, o) + format("\n  mean loss over %lld sample(s): %.6f\n", static_cast<long long>(t.count), t.loss);
    pages.push_back({"the loss", s});
  }
  {  // 6. delta
    std::string s;
    if (plain_head) {
      s = "δ = ∂L/∂z = ŷ − y   (y one-hot, per sample)\n";
    } else {
      s = "δ = ∂L_b/∂z = (ŷ − q) / T   (per sample)\n  " + head_terms + "\n";
    }
    s += "the head passes δ / B back: the gradient of the mean over B samples\n\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + (t.label_smoothing > 0 ? "\n    class        q        ŷ         δ\n"
                                                                         : "\n    class      y        ŷ         δ\n");
      for (int64_t k = 0; k < classes; ++k) {
        s += t.label_smoothing > 0
                 ? format("    %5lld  %7.4f  %9.5f  %+9.5f\n", static_cast<long long>(k), t.targets(b, k), t.probabilities(b, k), t.delta(b, k))
                 : format("    %5lld  %5.0f  %9.5f  %+9.5f\n", static_cast<long long>(k), t.targets(b, k), t.probabilities(b, k), t.delta(b, k));
      }
      s += format("    Σδ = %+.2e (ŷ sums to 1 and so does %s)\n", static_cast<double>(t.delta.row(b).sum()),
                  t.label_smoothing > 0 ? "q" : "y");
    }
    pages.push_back({plain_head ? "the gradient at the logits δ = ŷ − y" : "the gradient at the logits δ = (ŷ − q)/T", s + more(t, o)});
  }
  {  // 7. backward
    std::string s = "dy: the gradient entering a layer, dx: the one it passes down, dW: ∂L/∂W\n" + formulas_text(t.backward) +
        "dy entering the last layer: stage 6's δ / B (the gradient of the mean loss)\n\n";
    for (const auto& b : t.backward) {
      s += labelled_stats(format("  %2zu %s dy entering ", b.layer, pad(b.type, 8).c_str()), b.delta, 8, width);
      for (const auto& p : b.parameters) {
        s += labelled_stats("      ∂L/∂" + pad(p.name, 9) + " ", p.gradient, 8, width);
        std::vector<std::string> largest{"largest:"};
        for (const auto& e : p.largest) {
          largest.push_back(e.col >= 0 ? format("[%lld,%lld]=%+.3g", static_cast<long long>(e.row), static_cast<long long>(e.col), e.value)
                                       : format("[%lld]=%+.3g", static_cast<long long>(e.row), e.value));
        }
        s += wrap_items(largest, "        ", width, " ", "                 ") + check_text(t, p.name);
      }
      if (b.passed >= 0) {
        s += format("      gradient passed by %lld units, blocked at %lld (%.1f%%)\n", static_cast<long long>(b.passed),
                    static_cast<long long>(b.blocked),
                    100.0 * static_cast<double>(b.blocked) / static_cast<double>(std::max<int64_t>(b.passed + b.blocked, 1)));
      }
      s += labelled_stats("      passed down  ", b.passed_down, 8, width);
    }
    pages.push_back({"backward, layer by layer in reverse", s});
  }
  {  // 8. saliency
    std::string s = "∂L/∂x: how much each pixel moves the loss" +
                    std::string(o.color ? " (red: brighter raises the loss, blue: lowers it)" : "") + "\n";
    s += "∂L/∂x " + stats_text(summarize(t.saliency.data(), {t.saliency.rows(), t.saliency.cols()}, false)) + "\n" +
         check_text(t, "input") + "\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + "\n";
      if (drawn) {
        const float scale = std::max(t.saliency.row(b).cwiseAbs().maxCoeff(), 1e-30f);
        s += draw(t.saliency.row(b).data(), o.rows, o.cols, scale, o.color);
      }
    }
    pages.push_back({"the saliency ∂L/∂x", s + more(t, o)});
  }
  {  // 9. update
    const std::string type = t.optimizer.value("type", std::string("sgd"));
    std::string s;
    for (const auto& line : t.optimizer_formula) s += "  " + line + "\n";
    // the options, then the terms of this update, as "name = value" wrapped at 78 columns
    std::vector<std::string> items{format("lr = %.4g", t.learning_rate)};
    for (const auto& [key, value] : t.optimizer.items()) {
      if (key != "type") items.push_back(key + " = " + (value.is_number_float() ? format("%.4g", value.get<double>()) : value.dump()));
    }
    s += wrap_items(items, "  ", width - 2);
    items.clear();
    for (const auto& [term, value] : t.optimizer_terms) items.push_back(term + " = " + format("%.4g", value));
    if (!items.empty()) s += wrap_items(items, "  ", width - 2);
    const bool stateful = !t.updates.empty() && !t.updates[0].state.empty();
    if (stateful) {
      s += t.state_was_empty ? "  the optimizer's state was empty: this is its first step\n"
                             : "  the optimizer's state carried over from earlier steps\n";
    }
    // the table, each column as wide as its widest cell
    std::vector<std::vector<std::string>> rows{{"tensor", "shape", "‖W‖", "‖ΔW‖", "‖ΔW‖/‖W‖"}};
    for (const auto& symbol : t.state_symbols) rows[0].push_back("‖" + symbol + "‖");
    for (const auto& u : t.updates) {
      rows.push_back({u.name, shape_text(u.shape), format("%.3g", u.weight_norm), format("%.3g", u.delta_norm),
                      format("%.2e", u.weight_norm > 0 ? u.delta_norm / u.weight_norm : 0.0)});
      for (const auto& [state_name, summary] : u.state) rows.back().push_back(format("%.3g", summary.norm));
    }
    s += table(rows, "  ", 2);
    s += "after the update, on the same sample(s):\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      const int y = t.labels[b];
      s += format("  %s: ŷ_y %.5f -> %.5f   loss %.6f -> %.6f\n", sample_header(t, b, o.class_names).c_str(), t.probabilities(b, y),
                  t.probabilities_after(b, y), t.loss_per_sample[static_cast<size_t>(b)],
                  t.loss_after_per_sample[static_cast<size_t>(b)]);
    }
    s += more(t, o) + format("  mean loss %.6f -> %.6f (%s)\n", t.loss, t.loss_after, t.loss_after < t.loss ? "lower" : "not lower");
    if (t.check) {
      s += format("\nfinite-difference check: worst relative error %.2e, tolerance %.0e: %s\n", t.check->worst(),
                  t.check->tolerance, t.check->passed() ? "passed" : "FAILED");
      if (!t.check->training_mode) {
        s += "  (checked in eval mode: a random layer such as dropout is switched off for the finite\n"
             "  differences, so the gradients checked are eval mode's, not the training step's above)\n";
      }
    }
    pages.push_back({"the " + type + " update", s});
  }
  if (t.weight) {  // 10. one entry of one tensor
    const WeightDrill& w = *t.weight;
    const std::string entry = w.entry.col >= 0 ? format("[%lld,%lld]", static_cast<long long>(w.entry.row), static_cast<long long>(w.entry.col))
                                               : format("[%lld]", static_cast<long long>(w.entry.row));
    const std::string layer = w.entry.name.substr(0, w.entry.name.find('.'));
    std::string s;
    if (w.factored) {
      s += format("∂L/∂W[%lld,%lld] = Σ_b dy_b,%lld · x_b,%lld\n", static_cast<long long>(w.entry.row), static_cast<long long>(w.entry.col),
                  static_cast<long long>(w.entry.row), static_cast<long long>(w.entry.col));
      s += "  dy = ∂L/∂(layer " + layer + "'s output), the mean's 1/B included; x = its input\n";
    } else {
      s += "∂L/∂" + w.entry.name + entry + " = Σ_b (sample b's term: backward on its row of dy alone)\n";
    }
    s += std::string("  finite difference: (L_b(w + h) − L_b(w − h)) / 2h / B in double") + (w.numeric_in_eval ? ", eval mode" : "") + "\n\n";
    std::vector<std::vector<std::string>> rows;
    rows.push_back(w.factored ? std::vector<std::string>{"sample", "dy_b,i", "x_b,j", "term", "finite diff."}
                              : std::vector<std::string>{"sample", "term", "finite diff."});
    const size_t listed = std::min<size_t>(w.terms.size(), 16);
    for (size_t b = 0; b < listed; ++b) {
      const long long index = b < t.indices.size() ? static_cast<long long>(t.indices[b]) : static_cast<long long>(b);
      std::vector<std::string> row{format("%lld", index)};
      if (w.factored) {
        row.push_back(format("%+.4e", w.dy[b]));
        row.push_back(format("%.4g", w.x[b]));
      }
      row.push_back(format("%+.6e", w.terms[b]));
      row.push_back(format("%+.6e", w.numeric_terms[b]));
      rows.push_back(std::move(row));
    }
    s += table(rows, "  ", 2);
    if (w.terms.size() > listed) s += format("  (%zu more samples in --json)\n", w.terms.size() - listed);
    s += format("  Σ = %+.6e   finite difference %+.6e   relative error %.2e\n", w.gradient, w.numeric,
                relative_error(w.gradient, w.numeric, GradCheckOptions{}.floor));
    s += format("\nthe update: %s%s %.6g -> %.6g   Δ = %+.4e\n", w.entry.name.c_str(), entry.c_str(), w.before, w.after,
                w.after - w.before);
    s += format("  −lr·∂L/∂W = %+.4e; the rest is the optimizer's rule (stage 9: decay, momentum, ...)\n",
                -t.learning_rate * w.gradient);
    pages.push_back({w.entry.name + entry + ", term by term", s});
  }
  for (Page& page : pages) page.text = fit_to_width(page.text, width);  // what is still too wide is cut, never wrapped
  return pages;
}

Page steps_page(const std::vector<StepSummary>& steps, const StepTrace& first, const ViewOptions& o) {
  const size_t width = static_cast<size_t>(std::max<int64_t>(o.width, 40));
  std::string s = format("%zu steps on the same %lld sample(s), lr %.4g\n\n", steps.size(), static_cast<long long>(first.count),
                         first.learning_rate);
  std::vector<std::vector<std::string>> rows{{"step", "loss before", "loss after", "mean ŷ_y"}};
  for (const auto& step : steps) {
    double mean = 0;
    for (double p : step.y_hat_y) mean += p / static_cast<double>(std::max<size_t>(step.y_hat_y.size(), 1));
    rows.push_back({format("%lld", static_cast<long long>(step.step)), format("%.6f", step.loss_before),
                    format("%.6f", step.loss_after), format("%.5f", mean)});
  }
  s += table(rows, "  ", 2);
  // per tensor ‖∂L/∂W‖ and ‖ΔW‖/‖W‖, as many tensors side by side as the width holds
  const size_t tensors = steps.empty() ? 0 : steps[0].tensors.size();
  const size_t per_table = std::max<size_t>((width - 8) / 22, 1);
  for (size_t from = 0; from < tensors; from += per_table) {
    std::vector<std::vector<std::string>> grid{{""}, {"step"}};
    for (size_t k = from; k < std::min(tensors, from + per_table); ++k) {
      grid[0].push_back(steps[0].tensors[k].name);
      grid[0].push_back("");
      grid[1].push_back("‖∂L/∂W‖");
      grid[1].push_back("‖ΔW‖/‖W‖");
    }
    for (const auto& step : steps) {
      std::vector<std::string> row{format("%lld", static_cast<long long>(step.step))};
      for (size_t k = from; k < std::min(tensors, from + per_table); ++k) {
        row.push_back(format("%.3e", step.tensors[k].gradient_norm));
        row.push_back(format("%.3e", step.tensors[k].relative_update));
      }
      grid.push_back(std::move(row));
    }
    s += "\n" + table(grid, "  ", 2);
  }
  return {"the " + std::to_string(steps.size()) + " steps", fit_to_width(s, width)};
}

}  // namespace gradflow::cli
