#include "gradflow/report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace gradflow::svg {

namespace {

constexpr double kWidth = 460, kHeight = 300;
constexpr double kLeft = 60, kRight = 20, kTop = 48, kBottom = 46;

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string tick_label(double v) {
  char b[32];
  if (v != 0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5)) {
    std::snprintf(b, sizeof b, "%.0e", v);
  } else {
    std::snprintf(b, sizeof b, "%.4g", v);
  }
  return b;
}

struct Frame {
  double x0, x1, y0, y1;
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double py(double y) const { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

std::string open_svg(const std::string& title, double height = kHeight) {
  return "<svg xmlns='http://www.w3.org/2000/svg' width='" + num(kWidth) + "' height='" + num(height) +
         "' viewBox='0 0 " + num(kWidth) + " " + num(height) + "' font-family='sans-serif' font-size='11'>" +
         "<rect width='100%' height='100%' fill='white'/>" + "<text x='" + num(kWidth / 2) +
         "' y='18' text-anchor='middle' font-size='13' font-weight='bold'>" + escape(title) + "</text>";
}

// Axes with 5 ticks each; y_format maps a tick value to its label.
std::string axes(const Frame& f, const std::string& x_label, const std::string& y_label, bool log_y) {
  std::string s = "<g stroke='#333'><line x1='" + num(kLeft) + "' y1='" + num(f.py(f.y0)) + "' x2='" +
                   num(kWidth - kRight) + "' y2='" + num(f.py(f.y0)) + "'/><line x1='" + num(kLeft) + "' y1='" +
                   num(kTop) + "' x2='" + num(kLeft) + "' y2='" + num(kHeight - kBottom) + "'/></g>";
  for (int i = 0; i <= 4; ++i) {
    const double x = f.x0 + (f.x1 - f.x0) * i / 4, y = f.y0 + (f.y1 - f.y0) * i / 4;
    s += "<line x1='" + num(kLeft) + "' y1='" + num(f.py(y)) + "' x2='" + num(kWidth - kRight) + "' y2='" + num(f.py(y)) +
         "' stroke='#eee'/>";
    s += "<text x='" + num(f.px(x)) + "' y='" + num(kHeight - kBottom + 14) + "' text-anchor='middle'>" + tick_label(x) +
         "</text>";
    s += "<text x='" + num(kLeft - 4) + "' y='" + num(f.py(y) + 4) + "' text-anchor='end'>" +
         tick_label(log_y ? std::pow(10.0, y) : y) + "</text>";
  }
  s += "<text x='" + num((kLeft + kWidth - kRight) / 2) + "' y='" + num(kHeight - 8) + "' text-anchor='middle'>" +
       escape(x_label) + "</text>";
  if (!y_label.empty()) {
    s += "<text transform='translate(14 " + num((kTop + kHeight - kBottom) / 2) + ") rotate(-90)' text-anchor='middle'>" +
         escape(y_label) + "</text>";
  }
  return s;
}

// One row of legend entries between the title and the plot.
std::string legend(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string s;
  double x = kLeft;
  for (const auto& [name, color] : items) {
    s += "<rect x='" + num(x) + "' y='26' width='10' height='10' fill='" + color + "'/><text x='" + num(x + 14) +
         "' y='35'>" + escape(name) + "</text>";
    x += 24 + 6.5 * static_cast<double>(name.size());
  }
  return s;
}

}  // namespace

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string line_chart(const std::string& title, const std::string& x_label, const std::vector<Series>& series,
                       bool log_y) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto value = [log_y](double y) { return log_y ? std::log10(y) : y; };
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (log_y && !(s.y[i] > 0)) continue;
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, value(s.y[i]));
      y1 = std::max(y1, value(s.y[i]));
    }
  }
  if (!std::isfinite(x0)) return open_svg(title) + "<text x='40' y='80'>no data</text></svg>";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
  const double pad = (y1 - y0) * 0.05;
  // a non-negative quantity keeps its axis at 0 or above
  const double bottom = (!log_y && y0 >= 0) ? std::max(0.0, y0 - pad) : y0 - pad;
  const Frame f{x0, x1, bottom, y1 + pad};
  std::string s = open_svg(title) + axes(f, x_label, "", log_y);
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& line : series) {
    std::string points;
    for (size_t i = 0; i < line.x.size(); ++i) {
      if ((log_y && !(line.y[i] > 0)) || !std::isfinite(line.y[i])) continue;
      points += num(f.px(line.x[i])) + "," + num(f.py(value(line.y[i]))) + " ";
    }
    s += "<polyline fill='none' stroke='" + line.color + "' stroke-width='2' points='" + points + "'/>";
    if (line.x.size() <= 40) {
      for (size_t i = 0; i < line.x.size(); ++i) {
        if ((log_y && !(line.y[i] > 0)) || !std::isfinite(line.y[i])) continue;
        s += "<circle cx='" + num(f.px(line.x[i])) + "' cy='" + num(f.py(value(line.y[i]))) + "' r='2.5' fill='" +
             line.color + "'/>";
      }
    }
    items.emplace_back(line.name, line.color);
  }
  return s + legend(items) + "</svg>";
}

std::string reliability_diagram(const std::string& title, const std::vector<Bin>& bins) {
  const Frame f{0, 1, 0, 1};
  std::string s = open_svg(title) + axes(f, "confidence", "accuracy", false);
  for (const auto& b : bins) {
    if (b.count == 0) continue;
    const double x = f.px(b.lower) + 1, w = f.px(b.upper) - f.px(b.lower) - 2;
    s += "<rect x='" + num(x) + "' y='" + num(f.py(b.accuracy)) + "' width='" + num(w) + "' height='" +
         num(f.py(0) - f.py(b.accuracy)) + "' fill='#4c78a8'><title>(" + tick_label(b.lower) + ", " +
         tick_label(b.upper) + "]: " + std::to_string(b.count) + " samples, accuracy " + tick_label(b.accuracy) +
         ", confidence " + tick_label(b.confidence) + "</title></rect>";
    // the gap between accuracy and mean confidence
    const double top = std::max(b.accuracy, b.confidence), bottom = std::min(b.accuracy, b.confidence);
    s += "<rect x='" + num(x) + "' y='" + num(f.py(top)) + "' width='" + num(w) + "' height='" +
         num(f.py(bottom) - f.py(top)) + "' fill='#e45756' fill-opacity='0.55'/>";
  }
  s += "<line x1='" + num(f.px(0)) + "' y1='" + num(f.py(0)) + "' x2='" + num(f.px(1)) + "' y2='" + num(f.py(1)) +
       "' stroke='#333' stroke-dasharray='4 3'/>";
  return s + legend({{"accuracy", "#4c78a8"}, {"gap to diagonal", "#e45756"}}) + "</svg>";
}

std::string confidence_histogram(const std::string& title, const std::vector<Bin>& before, const std::vector<Bin>& after) {
  long long most = 1;
  for (const auto* list : {&before, &after}) {
    for (const auto& b : *list) most = std::max(most, b.count);
  }
  const double top = std::log10(static_cast<double>(most) + 1);
  const Frame f{0, 1, 0, top * 1.05};
  std::string s = open_svg(title) + axes(f, "top-label confidence", "samples (log scale)", true);
  auto bars = [&](const std::vector<Bin>& list, const std::string& color, double offset) {
    std::string out;
    for (const auto& b : list) {
      if (b.count == 0) continue;
      const double w = (f.px(b.upper) - f.px(b.lower)) / 2 - 1;
      const double h = std::log10(static_cast<double>(b.count) + 1);
      out += "<rect x='" + num(f.px(b.lower) + offset * (w + 1)) + "' y='" + num(f.py(h)) + "' width='" + num(w) +
             "' height='" + num(f.py(0) - f.py(h)) + "' fill='" + color + "'><title>" + std::to_string(b.count) +
             " samples</title></rect>";
    }
    return out;
  };
  s += bars(before, "#9d9d9d", 0) + bars(after, "#54a24b", 1);
  return s + legend({{"before T", "#9d9d9d"}, {"after T", "#54a24b"}}) + "</svg>";
}

std::string heat_map(const std::string& title, const std::string& row_label, const std::string& col_label,
                     const std::vector<std::vector<long long>>& counts) {
  const size_t n = counts.size();
  const double height = kWidth;  // square
  const double size = std::min(kWidth - kLeft - kRight, height - kTop - kBottom);
  const double cell = n > 0 ? size / static_cast<double>(n) : size;
  long long most = 1;
  for (const auto& row : counts) {
    for (long long c : row) most = std::max(most, c);
  }
  std::string s = open_svg(title, height);
  const double x0 = kLeft + (kWidth - kLeft - kRight - size) / 2;
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < n; ++c) {
      const long long v = counts[r][c];
      // log shading so off-diagonal mistakes stay visible beside the large diagonal
      const double level = v > 0 ? std::log1p(static_cast<double>(v)) / std::log1p(static_cast<double>(most)) : 0.0;
      const int shade = static_cast<int>(255 - level * 200);
      char color[32];
      std::snprintf(color, sizeof color, "rgb(%d,%d,255)", shade, shade);
      const double x = x0 + static_cast<double>(c) * cell, y = kTop + static_cast<double>(r) * cell;
      s += "<rect x='" + num(x) + "' y='" + num(y) + "' width='" + num(cell) + "' height='" + num(cell) + "' fill='" +
           (v > 0 ? std::string(color) : std::string("white")) + "' stroke='#ddd'/>";
      if (v > 0 && cell >= 14) {
        s += "<text x='" + num(x + cell / 2) + "' y='" + num(y + cell / 2 + 3) + "' text-anchor='middle' font-size='" +
             num(std::min(10.0, cell / 2.6)) + "' fill='" + (level > 0.6 ? "white" : "black") + "'>" +
             std::to_string(v) + "</text>";
      }
    }
    s += "<text x='" + num(x0 - 4) + "' y='" + num(kTop + (static_cast<double>(r) + 0.5) * cell + 4) +
         "' text-anchor='end'>" + std::to_string(r) + "</text>";
    s += "<text x='" + num(x0 + (static_cast<double>(r) + 0.5) * cell) + "' y='" + num(kTop + size + 12) +
         "' text-anchor='middle'>" + std::to_string(r) + "</text>";
  }
  s += "<text x='" + num(x0 + size / 2) + "' y='" + num(height - 10) + "' text-anchor='middle'>" + escape(col_label) +
       "</text>";
  s += "<text transform='translate(" + num(x0 - 24) + " " + num(kTop + size / 2) + ") rotate(-90)' text-anchor='middle'>" +
       escape(row_label) + "</text>";
  return s + "</svg>";
}

}  // namespace gradflow::svg
