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

// Columns on a terminal: UTF-8 characters, not bytes ("‖W‖" is 3 wide).
size_t display_width(const std::string& text) {
  size_t width = 0;
  for (const unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

std::string pad(const std::string& text, size_t width) {
  return text + std::string(width > display_width(text) ? width - display_width(text) : 0, ' ');
}

// "a = 1   b = 2   ..." on lines of at most `columns`, each starting with `indent`.
std::string wrap_items(const std::vector<std::string>& items, const std::string& indent, size_t columns) {
  std::string out, line;
  for (const auto& item : items) {
    if (!line.empty() && display_width(line) + 3 + display_width(item) > columns) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? indent : "   ") + item;
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
  return format("%-12s norm %-10.4g min %-10.4g mean %-10.4g max %.4g", shape_text(s.shape).c_str(), s.norm, s.min,
                s.mean, s.max);
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

std::string bar(double fraction, int width) {
  const int n = static_cast<int>(std::lround(std::clamp(fraction, 0.0, 1.0) * width));
  std::string s;
  for (int i = 0; i < n; ++i) s += "█";
  return s;
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
  return format("      finite-difference check (double, %lld entries): max relative error %.2e  %s\n",
                static_cast<long long>(c->checked), c->max_relative_error, ok ? "ok" : "FAILED");
}

}  // namespace

std::vector<Page> step_pages(const StepTrace& t, const ViewOptions& o) {
  std::vector<Page> pages;
  const bool drawn = o.rows > 0 && o.cols > 0 && o.rows * o.cols == t.inputs.cols();
  const int64_t classes = t.logits.cols();
  const bool named = static_cast<int64_t>(o.class_names.size()) == classes;
  auto name = [&](int64_t k) { return named ? o.class_names[static_cast<size_t>(k)] : std::to_string(k); };

  {  // 1. input
    std::string s = "x: the pixels scaled to [0, 1] (and normalised as the config says), one row per sample\n";
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
    std::string s = "dense: a = x·Wᵀ + b        relu: h = max(a, 0)\n\n";
    for (const auto& f : t.forward) {
      s += format("  %2zu %-8s -> %s\n", f.layer, f.type.c_str(), stats_text(f.output).c_str());
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
    std::string s = t.temperature == 1.0 ? "ŷ_k = exp(z_k) / Σ_j exp(z_j)\n\n"
                                          : format("ŷ_k = exp(z_k / T) / Σ_j exp(z_j / T),  T = %.4g\n\n", t.temperature);
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + "\n";
      for (int64_t k = 0; k < classes; ++k) {
        s += format("    %-12s %s %-40s %.4f\n", name(k).c_str(), k == t.labels[b] ? "←" : " ",
                    bar(t.probabilities(b, k), 40).c_str(), t.probabilities(b, k));
      }
    }
    pages.push_back({"the softmax ŷ", s + more(t, o)});
  }
  {  // 5. loss
    std::string s = "L = −log ŷ_y = logsumexp(z) − z_y     (the batch loss is the mean over samples)\n\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += format("  %s:  −log ŷ_y = %.6f    logsumexp(z) − z_y = %.6f\n", sample_header(t, b, o.class_names).c_str(),
                  t.loss_negative_log[static_cast<size_t>(b)], t.loss_logsumexp[static_cast<size_t>(b)]);
    }
    s += more(t, o) + format("\n  mean loss over %lld sample(s): %.6f\n", static_cast<long long>(t.count), t.loss);
    pages.push_back({"the loss", s});
  }
  {  // 6. delta
    std::string s = "δ = ∂L/∂z = ŷ − y   (y one-hot; the head passes δ / B back for the mean over B samples)\n\n";
    for (int64_t b = 0; b < shown(t, o); ++b) {
      s += sample_header(t, b, o.class_names) + "\n    class      y        ŷ         δ\n";
      for (int64_t k = 0; k < classes; ++k) {
        s += format("    %5lld  %5.0f  %9.5f  %+9.5f\n", static_cast<long long>(k), k == t.labels[b] ? 1.0 : 0.0,
                    t.probabilities(b, k), t.delta(b, k));
      }
      s += format("    Σδ = %+.2e (ŷ sums to 1 and so does y)\n", static_cast<double>(t.delta.row(b).sum()));
    }
    pages.push_back({"the gradient at the logits δ = ŷ − y", s + more(t, o)});
  }
  {  // 7. backward
    std::string s =
        "dense: ∂L/∂W = δᵀ·x   ∂L/∂b = Σ_batch δ   passed down: δ·W\n"
        "relu:  passed down: δ ⊙ 1[h > 0]  (units that were 0 block the gradient)\n\n";
    for (const auto& b : t.backward) {
      s += format("  %2zu %-8s δ entering %s\n", b.layer, b.type.c_str(), stats_text(b.delta).c_str());
      for (const auto& p : b.parameters) {
        s += format("      ∂L/∂%-9s %s\n", p.name.c_str(), stats_text(p.gradient).c_str());
        std::string largest = "        largest:";
        for (const auto& e : p.largest) {
          largest += e.col >= 0 ? format(" [%lld,%lld]=%+.3g", static_cast<long long>(e.row), static_cast<long long>(e.col), e.value)
                                : format(" [%lld]=%+.3g", static_cast<long long>(e.row), e.value);
        }
        s += largest + "\n" + check_text(t, p.name);
      }
      if (b.passed >= 0) {
        s += format("      gradient passed by %lld units, blocked at %lld (%.1f%%)\n", static_cast<long long>(b.passed),
                    static_cast<long long>(b.blocked),
                    100.0 * static_cast<double>(b.blocked) / static_cast<double>(std::max<int64_t>(b.passed + b.blocked, 1)));
      }
      s += format("      passed down  %s\n", stats_text(b.passed_down).c_str());
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
    s += wrap_items(items, "  ", 78);
    items.clear();
    for (const auto& [term, value] : t.optimizer_terms) items.push_back(term + " = " + format("%.4g", value));
    if (!items.empty()) s += wrap_items(items, "  ", 78);
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
                  t.probabilities_after(b, y), t.loss_negative_log[static_cast<size_t>(b)],
                  t.loss_after_per_sample[static_cast<size_t>(b)]);
    }
    s += more(t, o) + format("  mean loss %.6f -> %.6f (%s)\n", t.loss, t.loss_after, t.loss_after < t.loss ? "lower" : "not lower");
    if (t.check) {
      s += format("\nfinite-difference check: worst relative error %.2e, tolerance %.0e: %s\n", t.check->worst(),
                  t.check->tolerance, t.check->passed() ? "passed" : "FAILED");
    }
    pages.push_back({"the " + type + " update", s});
  }
  return pages;
}

}  // namespace gradflow::cli
