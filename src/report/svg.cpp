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

std::string num2(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

// The label of a tick value on an axis whose ticks are `step` apart: as many decimals as the
// step needs, exponent notation for very small or very large magnitudes.
std::string tick_label(double v, double step) {
  char b[32];
  if (std::fabs(v) < step * 1e-6) return "0";
  if (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5) {
    std::snprintf(b, sizeof b, "%.0e", v);  // "1e-04" -> "1e-4", "2e+05" -> "2e5"
    std::string text = b;
    const auto e = text.find('e');
    std::string mantissa = text.substr(0, e), exponent = text.substr(e + 1);
    const bool negative = exponent[0] == '-';
    exponent = exponent.substr(1);
    while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
    return mantissa + "e" + (negative ? "-" : "") + exponent;
  }
  const int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// A value for a tooltip: four significant digits.
std::string value_label(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
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

// A tick: where it sits in the frame's coordinates, and what it says.
struct Tick {
  double at;
  std::string label;
};

// Linear ticks from nice_ticks, those within [lo, hi] only; percent labels a fraction as "80%".
std::vector<Tick> linear_ticks(double lo, double hi, bool integer, bool percent = false) {
  const auto values = nice_ticks(lo, hi, 5, integer);
  const double step = values.size() > 1 ? values[1] - values[0] : 1.0;
  std::vector<Tick> ticks;
  for (double v : values) {
    if (v < lo - step * 1e-6 || v > hi + step * 1e-6) continue;
    ticks.push_back({v, percent ? tick_label(v * 100, step * 100) + "%" : tick_label(v, step)});
  }
  return ticks;
}

// Ticks on a log10 axis spanning [lo, hi] (exponents): the powers of ten inside, and 2× and 5×
// them, then every multiple, while fewer than three ticks would show.
std::vector<Tick> log_ticks(double lo, double hi) {
  std::vector<Tick> ticks;
  for (const std::vector<double>& multiples : {std::vector<double>{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    ticks.clear();
    for (double k = std::floor(lo); k <= std::ceil(hi); ++k) {
      for (double m : multiples) {
        const double at = k + std::log10(m);
        if (at < lo - 1e-9 || at > hi + 1e-9) continue;
        const double v = m * std::pow(10.0, k);
        ticks.push_back({at, tick_label(v, std::pow(10.0, std::min(k, 0.0)))});
      }
    }
    if (ticks.size() >= 3) break;
  }
  return ticks;
}

// The axis lines, grid lines at the y ticks, tick labels and axis titles.
std::string axes(const Frame& f, const std::vector<Tick>& x_ticks, const std::vector<Tick>& y_ticks,
                 const std::string& x_label, const std::string& y_label) {
  std::string s;
  for (const auto& t : y_ticks) {
    s += "<line x1='" + num(kLeft) + "' y1='" + num(f.py(t.at)) + "' x2='" + num(kWidth - kRight) + "' y2='" +
         num(f.py(t.at)) + "' stroke='#eee'/>";
    s += "<text x='" + num(kLeft - 6) + "' y='" + num(f.py(t.at) + 4) + "' text-anchor='end'>" + escape(t.label) +
         "</text>";
  }
  for (const auto& t : x_ticks) {
    s += "<line x1='" + num(f.px(t.at)) + "' y1='" + num(kHeight - kBottom) + "' x2='" + num(f.px(t.at)) + "' y2='" +
         num(kHeight - kBottom + 4) + "' stroke='#333'/>";
    s += "<text x='" + num(f.px(t.at)) + "' y='" + num(kHeight - kBottom + 15) + "' text-anchor='middle'>" +
         escape(t.label) + "</text>";
  }
  s += "<g stroke='#333'><line x1='" + num(kLeft) + "' y1='" + num(kHeight - kBottom) + "' x2='" +
       num(kWidth - kRight) + "' y2='" + num(kHeight - kBottom) + "'/><line x1='" + num(kLeft) + "' y1='" +
       num(kTop) + "' x2='" + num(kLeft) + "' y2='" + num(kHeight - kBottom) + "'/></g>";
  s += "<text x='" + num((kLeft + kWidth - kRight) / 2) + "' y='" + num(kHeight - 10) + "' text-anchor='middle'>" +
       escape(x_label) + "</text>";
  if (!y_label.empty()) {
    s += "<text transform='translate(14 " + num((kTop + kHeight - kBottom) / 2) + ") rotate(-90)' text-anchor='middle'>" +
         escape(y_label) + "</text>";
  }
  return s;
}

struct LegendItem {
  std::string name, color;
  double opacity = 1;
  bool dashed = false;  // a dashed line rather than a swatch
};

double legend_width(const std::string& name) { return 24 + 6.2 * static_cast<double>(name.size()); }

// The rows legend() needs for these entries.
int legend_rows(const std::vector<LegendItem>& items) {
  int rows = 1;
  double x = kLeft;
  for (const auto& item : items) {
    if (x > kLeft && x + legend_width(item.name) > kWidth) {
      x = kLeft;
      ++rows;
    }
    x += legend_width(item.name);
  }
  return rows;
}

// Legend entries from (kLeft, y), wrapping onto a new row 14 px down where the width runs out.
std::string legend(const std::vector<LegendItem>& items, double y = 26) {
  std::string s;
  double x = kLeft;
  for (const auto& item : items) {
    const double width = legend_width(item.name);
    if (x > kLeft && x + width > kWidth) {
      x = kLeft;
      y += 14;
    }
    if (item.dashed) {
      s += "<line x1='" + num(x) + "' y1='" + num(y + 5) + "' x2='" + num(x + 10) + "' y2='" + num(y + 5) +
           "' stroke='" + item.color + "' stroke-dasharray='3 2'/>";
    } else {
      s += "<rect x='" + num(x) + "' y='" + num(y) + "' width='10' height='10' fill='" + item.color + "'" +
           (item.opacity < 1 ? " fill-opacity='" + num2(item.opacity) + "'" : std::string()) + "/>";
    }
    s += "<text x='" + num(x + 14) + "' y='" + num(y + 9) + "'>" + escape(item.name) + "</text>";
    x += width;
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

std::string series_color(size_t index) {
  // Tableau 10: distinguishable in print and by most colour-blind readers
  static const char* const kPalette[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
                                         "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac"};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

std::vector<double> nice_ticks(double lo, double hi, int target, bool integer) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) hi = lo + (lo == 0 || integer ? 1.0 : std::fabs(lo) * 0.1);
  const double raw = (hi - lo) / std::max(1, target - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  double multiple = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  double scale = magnitude;
  if (integer && multiple * scale < 1) multiple = scale = 1;
  const double step = multiple * scale;
  // k * multiple / 10^j rather than k * step: 3 * 2 / 10 is 0.6 exactly, 3 * 0.2 is not
  const double divisor = scale < 1 ? std::round(1 / scale) : 0;
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; ++k) ticks.push_back(divisor > 0 ? k * multiple / divisor : k * step);
  return ticks;
}

std::string line_chart(const std::string& title, const std::string& x_label, const std::vector<Series>& series,
                       const ChartOptions& options) {
  const bool log_y = options.log_y;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto value = [log_y](double y) { return log_y ? std::log10(y) : y; };
  auto shown = [log_y](double y) { return std::isfinite(y) && (!log_y || y > 0); };
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!shown(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, value(s.y[i]));
      y1 = std::max(y1, value(s.y[i]));
    }
  }
  if (!std::isfinite(x0)) return open_svg(title) + "<text x='40' y='80'>no data</text></svg>";
  if (x1 == x0) x1 = x0 + 1;
  if (options.fraction_y) {
    y1 = 1;
    y0 = std::min(y0, 0.9);  // a run at 100% throughout still gets an axis
  }
  if (y1 == y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
  std::vector<Tick> y_ticks;
  if (log_y) {
    const double pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    y_ticks = log_ticks(y0, y1);
  } else {
    // the axis runs from tick to tick, so it starts and ends on a round number
    const auto values = nice_ticks(y0, y1, 5, false);
    y0 = values.front();
    y1 = options.fraction_y ? 1.0 : values.back();
    y_ticks = linear_ticks(y0, y1, false, options.fraction_y);
  }
  const Frame f{x0, x1, y0, y1};
  std::string s = open_svg(title) + axes(f, linear_ticks(x0, x1, options.integer_x), y_ticks, x_label, "");
  std::vector<LegendItem> items;
  for (const auto& line : series) {
    std::string points;
    for (size_t i = 0; i < line.x.size(); ++i) {
      if (!shown(line.y[i])) continue;
      points += num(f.px(line.x[i])) + "," + num(f.py(value(line.y[i]))) + " ";
    }
    s += "<polyline fill='none' stroke='" + line.color + "' stroke-width='2' points='" + points + "'/>";
    if (line.x.size() <= 40) {
      for (size_t i = 0; i < line.x.size(); ++i) {
        if (!shown(line.y[i])) continue;
        s += "<circle cx='" + num(f.px(line.x[i])) + "' cy='" + num(f.py(value(line.y[i]))) + "' r='2.5' fill='" +
             line.color + "'/>";
      }
    }
    items.push_back({line.name, line.color});
  }
  return s + legend(items) + "</svg>";
}

long long few_samples(const std::vector<Bin>& bins) {
  long long total = 0;
  for (const auto& b : bins) total += b.count;
  return std::max<long long>(10, total / 100);
}

std::string reliability_diagram(const std::string& title, const std::vector<Bin>& bins, bool equal_mass) {
  static const char* kAccuracy = "#4c78a8";
  static const char* kOverconfident = "#e45756";   // confidence above accuracy
  static const char* kUnderconfident = "#f2b447";  // accuracy above confidence
  static const char* kBand = "#7f7f7f";            // drawn translucent over the bars
  const long long few = few_samples(bins);
  long long total = 0;
  bool any_band = false, any_faded = false;
  double lowest = 1;  // the lowest value drawn, where an equal-mass diagram's y axis may start
  for (const auto& b : bins) {
    total += b.count;
    if (b.count == 0) continue;
    any_band = any_band || b.band.has_value();
    any_faded = any_faded || b.count < few;
    lowest = std::min({lowest, b.accuracy, b.confidence, b.band ? b.band->first : 1.0});
  }
  const double y0 = equal_mass ? std::max(0.0, nice_ticks(std::max(0.0, lowest - 0.02), 1.0).front()) : 0.0;
  const Frame f{0, 1, y0, 1};
  std::vector<LegendItem> items{{"accuracy", kAccuracy},
                                {"over-confident gap", kOverconfident},
                                {"under-confident gap", kUnderconfident},
                                {equal_mass ? "perfect calibration (mean confidence)" : "perfect calibration", "#333", 1, true}};
  if (any_band) items.push_back({"consistency band: 95% of a calibrated model", kBand, 0.35});
  if (any_faded) items.push_back({"faded: fewer than " + std::to_string(few) + " samples", kAccuracy, 0.3});
  const double legend_height = 8 + 14 * static_cast<double>(legend_rows(items));
  std::string s = open_svg(title, kHeight + legend_height) +
                  axes(f, linear_ticks(0, 1, false, equal_mass), linear_ticks(y0, 1, false),
                       equal_mass ? "share of samples, by confidence" : "confidence", "accuracy");
  std::string diagonal;  // equal-mass: each bin's mean confidence, a step line
  long long before = 0;  // equal-mass: the samples in the bins left of this one
  for (const auto& b : bins) {
    const double lower = equal_mass ? static_cast<double>(before) / static_cast<double>(std::max(1LL, total)) : b.lower;
    before += b.count;
    const double upper = equal_mass ? static_cast<double>(before) / static_cast<double>(std::max(1LL, total)) : b.upper;
    const double x = f.px(lower) + 1, w = std::max(1.0, f.px(upper) - f.px(lower) - 2);
    if (b.count == 0) {
      // an empty bin: nothing to show but that it is empty
      s += "<text class='empty' x='" + num(x + w / 2) + "' y='" + num(f.py(y0) - 3) +
           "' text-anchor='middle' font-size='8' fill='#999'>0</text>";
      continue;
    }
    // a bin of few samples says little about calibration: fade it in proportion to its count
    const double opacity = b.count >= few ? 1.0 : std::max(0.15, static_cast<double>(b.count) / static_cast<double>(few));
    const double low = std::min(b.accuracy, b.confidence), high = std::max(b.accuracy, b.confidence);
    s += "<g class='bin' data-count='" + std::to_string(b.count) + "' opacity='" + num2(opacity) + "'><title>(" +
         value_label(b.lower) + ", " + value_label(b.upper) + "]: " + std::to_string(b.count) + (b.count == 1 ? " sample" : " samples") + ", accuracy " +
         value_label(b.accuracy) + ", mean confidence " + value_label(b.confidence) +
         (b.band ? ", a calibrated model: [" + value_label(b.band->first) + ", " + value_label(b.band->second) + "]"
                 : std::string()) +
         "</title>";
    // the bar up to accuracy; the gap to the mean confidence drawn apart, never overlapping the bar
    s += "<rect x='" + num(x) + "' y='" + num(f.py(low)) + "' width='" + num(w) + "' height='" +
         num(f.py(y0) - f.py(low)) + "' fill='" + kAccuracy + "'/>";
    s += "<rect x='" + num(x) + "' y='" + num(f.py(high)) + "' width='" + num(w) + "' height='" +
         num(f.py(low) - f.py(high)) + "' fill='" + (b.confidence > b.accuracy ? kOverconfident : kUnderconfident) +
         "'/>";
    double top = high;
    if (b.band) {
      // at least 2 px tall, so a narrow band still shows where it is
      const double band_bottom = f.py(b.band->first), band_top = f.py(b.band->second);
      const double band_height = std::max(2.0, band_bottom - band_top);
      s += "<rect class='band' data-low='" + value_label(b.band->first) + "' data-high='" +
           value_label(b.band->second) + "' x='" + num(x) + "' y='" + num((band_bottom + band_top - band_height) / 2) +
           "' width='" + num(w) + "' height='" + num(band_height) + "' fill='" + kBand +
           "' fill-opacity='0.35' stroke='#555' stroke-width='0.6'/>";
      top = std::max(top, b.band->second);
    }
    s += "</g>";
    // the count stays legible when its bar is faded
    s += "<text x='" + num(x + w / 2) + "' y='" + num(f.py(top) - 3) + "' text-anchor='middle' font-size='8' fill='#333'>" +
         std::to_string(b.count) + "</text>";
    if (equal_mass) {
      diagonal += num(f.px(lower)) + "," + num(f.py(b.confidence)) + " " + num(f.px(upper)) + "," + num(f.py(b.confidence)) + " ";
    }
  }
  if (equal_mass) {
    s += "<polyline fill='none' points='" + diagonal + "' stroke='#333' stroke-dasharray='4 3'/>";
  } else {
    s += "<line x1='" + num(f.px(0)) + "' y1='" + num(f.py(0)) + "' x2='" + num(f.px(1)) + "' y2='" + num(f.py(1)) +
         "' stroke='#333' stroke-dasharray='4 3'/>";
  }
  return s + legend(items, kHeight) + "</svg>";
}

std::string confidence_histogram(const std::string& title, const std::vector<Bin>& before, const std::vector<Bin>& after,
                                 const std::string& before_name, const std::string& after_name) {
  long long most = 1;
  for (const auto* list : {&before, &after}) {
    for (const auto& b : *list) most = std::max(most, b.count);
  }
  // a count c stands at log10(c + 1), so 0 sits on the axis and 1 just above it
  auto height = [](double count) { return std::log10(count + 1); };
  const Frame f{0, 1, 0, height(static_cast<double>(most)) * 1.05};
  std::vector<Tick> y_ticks;
  for (double count = 1; height(count) <= f.y1; count *= 10) y_ticks.push_back({height(count), tick_label(count, 1)});
  std::string s = open_svg(title) +
                  axes(f, linear_ticks(0, 1, false), y_ticks, "top-label confidence", "samples (log scale)");
  auto bars = [&](const std::vector<Bin>& list, const std::string& color, double offset) {
    std::string out;
    for (const auto& b : list) {
      if (b.count == 0) continue;
      const double w = (f.px(b.upper) - f.px(b.lower)) / 2 - 1;
      const double h = height(static_cast<double>(b.count));
      out += "<rect x='" + num(f.px(b.lower) + offset * (w + 1)) + "' y='" + num(f.py(h)) + "' width='" + num(w) +
             "' height='" + num(f.py(0) - f.py(h)) + "' fill='" + color + "'><title>" + std::to_string(b.count) +
             " samples</title></rect>";
    }
    return out;
  };
  s += bars(before, "#9d9d9d", 0) + bars(after, "#54a24b", 1);
  return s + legend({{before_name, "#9d9d9d"}, {after_name, "#54a24b"}}) + "</svg>";
}

std::string heat_map(const std::string& title, const std::string& row_label, const std::string& col_label,
                     const std::vector<std::vector<long long>>& counts, const std::vector<std::string>& labels) {
  const size_t n = counts.size();
  std::vector<std::string> names(n);
  size_t longest = 1;
  for (size_t k = 0; k < n; ++k) {
    names[k] = k < labels.size() && !labels[k].empty() ? labels[k] : std::to_string(k);
    longest = std::max(longest, names[k].size());
  }
  // names longer than two characters are written slanted under the columns
  const bool slanted = longest > 2;
  const double label_width = 6.0 * static_cast<double>(longest);
  const double height = kWidth;  // square
  const double left = 30 + label_width, bottom = 28 + (slanted ? label_width * 0.75 + 6 : 14);
  const double size = std::min(kWidth - left - kRight, height - kTop - bottom);
  const double cell = n > 0 ? size / static_cast<double>(n) : size;
  long long most = 1;
  for (const auto& row : counts) {
    for (long long c : row) most = std::max(most, c);
  }
  std::string s = open_svg(title, height);
  const double x0 = left + (kWidth - left - kRight - size) / 2;
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
           (v > 0 ? std::string(color) : std::string("white")) + "' stroke='#ddd'><title>true " + escape(names[r]) +
           ", predicted " + escape(names[c]) + ": " + std::to_string(v) + "</title></rect>";
      if (v > 0 && cell >= 14) {
        s += "<text x='" + num(x + cell / 2) + "' y='" + num(y + cell / 2 + 3) + "' text-anchor='middle' font-size='" +
             num(std::min(10.0, cell / 2.6)) + "' fill='" + (level > 0.6 ? "white" : "black") + "'>" +
             std::to_string(v) + "</text>";
      }
    }
    s += "<text x='" + num(x0 - 4) + "' y='" + num(kTop + (static_cast<double>(r) + 0.5) * cell + 4) +
         "' text-anchor='end' font-size='10'>" + escape(names[r]) + "</text>";
    const double cx = x0 + (static_cast<double>(r) + 0.5) * cell, cy = kTop + size + 12;
    s += slanted ? "<text transform='translate(" + num(cx + 3) + " " + num(cy - 4) +
                       ") rotate(-40)' text-anchor='end' font-size='10'>" + escape(names[r]) + "</text>"
                 : "<text x='" + num(cx) + "' y='" + num(cy) + "' text-anchor='middle' font-size='10'>" +
                       escape(names[r]) + "</text>";
  }
  s += "<text x='" + num(x0 + size / 2) + "' y='" + num(height - 10) + "' text-anchor='middle'>" + escape(col_label) +
       "</text>";
  s += "<text transform='translate(" + num(x0 - label_width - 12) + " " + num(kTop + size / 2) +
       ") rotate(-90)' text-anchor='middle'>" + escape(row_label) + "</text>";
  return s + "</svg>";
}

}  // namespace gradflow::svg
