#include "gradflow/data/digit.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <numeric>

namespace gradflow {

namespace {

// One channel of a picture: rows × cols values, row-major.
struct Plane {
  int rows = 0, cols = 0;
  std::vector<float> v;
  Plane(int r, int c, float fill = 0.0f) : rows(r), cols(c), v(size_t(r) * size_t(c), fill) {}
  float& at(int r, int c) { return v[size_t(r) * size_t(cols) + size_t(c)]; }
  float at(int r, int c) const { return v[size_t(r) * size_t(cols) + size_t(c)]; }
};

// The running maximum (or minimum) over a window of 2 · radius + 1 along `n` values spaced
// `stride` apart, the window clipped at the ends: O(n) with a monotone deque.
void running_extreme_line(float* line, int n, size_t stride, int radius, bool maximum, std::vector<float>& scratch) {
  scratch.resize(size_t(n));
  std::deque<int> window;  // indices whose values are monotone: the front is the extreme
  auto better = [maximum](float a, float b) { return maximum ? a >= b : a <= b; };
  int next = 0;
  for (int i = 0; i < n; ++i) {
    for (; next < n && next <= i + radius; ++next) {
      const float value = line[size_t(next) * stride];
      while (!window.empty() && better(value, line[size_t(window.back()) * stride])) window.pop_back();
      window.push_back(next);
    }
    while (window.front() < i - radius) window.pop_front();
    scratch[size_t(i)] = line[size_t(window.front()) * stride];
  }
  for (int i = 0; i < n; ++i) line[size_t(i) * stride] = scratch[size_t(i)];
}

// Grey dilation (maximum) or erosion (minimum) over a square of side 2 · radius + 1.
Plane running_extreme(Plane p, int radius, bool maximum) {
  std::vector<float> scratch;
  for (int r = 0; r < p.rows; ++r) running_extreme_line(&p.at(r, 0), p.cols, 1, radius, maximum, scratch);
  for (int c = 0; c < p.cols; ++c) running_extreme_line(&p.at(0, c), p.rows, size_t(p.cols), radius, maximum, scratch);
  return p;
}

// A closing removes dark features narrower than the window.
Plane closing(const Plane& p, int radius) { return running_extreme(running_extreme(p, radius, true), radius, false); }

// Mean over a square of side 2 · radius + 1, clipped at the borders (running sums).
Plane box_blur(Plane p, int radius) {
  if (radius <= 0) return p;
  auto blur_line = [radius](float* line, int n, size_t stride, std::vector<double>& prefix) {
    prefix.assign(size_t(n) + 1, 0.0);
    for (int i = 0; i < n; ++i) prefix[size_t(i) + 1] = prefix[size_t(i)] + line[size_t(i) * stride];
    for (int i = 0; i < n; ++i) {
      const int lo = std::max(0, i - radius), hi = std::min(n, i + radius + 1);
      line[size_t(i) * stride] = static_cast<float>((prefix[size_t(hi)] - prefix[size_t(lo)]) / (hi - lo));
    }
  };
  std::vector<double> prefix;
  for (int r = 0; r < p.rows; ++r) blur_line(&p.at(r, 0), p.cols, 1, prefix);
  for (int c = 0; c < p.cols; ++c) blur_line(&p.at(0, c), p.rows, size_t(p.cols), prefix);
  return p;
}

// The typical value around each pixel: the median of each block of side `block`, interpolated
// bilinearly between the blocks' centres. Ink covering less than half a block does not move it.
Plane block_median(const Plane& p, int block) {
  const int grid_rows = (p.rows + block - 1) / block, grid_cols = (p.cols + block - 1) / block;
  Plane grid(grid_rows, grid_cols);
  std::vector<float> values;
  for (int gr = 0; gr < grid_rows; ++gr) {
    for (int gc = 0; gc < grid_cols; ++gc) {
      values.clear();
      for (int r = gr * block; r < std::min(p.rows, (gr + 1) * block); ++r) {
        for (int c = gc * block; c < std::min(p.cols, (gc + 1) * block); ++c) values.push_back(p.at(r, c));
      }
      std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
      grid.at(gr, gc) = values[values.size() / 2];
    }
  }
  Plane out(p.rows, p.cols);
  for (int r = 0; r < p.rows; ++r) {
    const double y = std::clamp((r + 0.5) / block - 0.5, 0.0, grid_rows - 1.0);
    const int y0 = std::min(static_cast<int>(y), grid_rows - 1), y1 = std::min(y0 + 1, grid_rows - 1);
    for (int c = 0; c < p.cols; ++c) {
      const double x = std::clamp((c + 0.5) / block - 0.5, 0.0, grid_cols - 1.0);
      const int x0 = std::min(static_cast<int>(x), grid_cols - 1), x1 = std::min(x0 + 1, grid_cols - 1);
      const double fy = y - y0, fx = x - x0;
      out.at(r, c) = static_cast<float>((1 - fy) * ((1 - fx) * grid.at(y0, x0) + fx * grid.at(y0, x1)) +
                                        fy * ((1 - fx) * grid.at(y1, x0) + fx * grid.at(y1, x1)));
    }
  }
  return out;
}

// The picture's three channels, shrunk by an integer factor (averaging) to at most kWorkSide.
std::array<Plane, 3> working_channels(const ColourImage& photo) {
  const int factor = std::max(1, (std::max(photo.rows, photo.cols) + kWorkSide - 1) / kWorkSide);
  const int rows = std::max(1, photo.rows / factor), cols = std::max(1, photo.cols / factor);
  std::array<Plane, 3> out{Plane(rows, cols), Plane(rows, cols), Plane(rows, cols)};
  const float share = 1.0f / static_cast<float>(factor * factor);
  for (int r = 0; r < rows * factor && r < photo.rows; ++r) {
    for (int c = 0; c < cols * factor && c < photo.cols; ++c) {
      const size_t i = (size_t(r) * size_t(photo.cols) + size_t(c)) * 3;
      for (size_t k = 0; k < 3; ++k) out[k].at(r / factor, c / factor) += photo.rgb[i + k] * share;
    }
  }
  return out;
}

// q-quantile of `values` (copied), 0 ≤ q ≤ 1.
float quantile(std::vector<float> values, double q) {
  if (values.empty()) return 0.0f;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

// Otsu's threshold over [0, 1]: the split of a 256-bin histogram with the largest between-class variance.
float otsu(const std::vector<float>& values) {
  std::array<double, 256> hist{};
  for (float v : values) hist[size_t(std::clamp(static_cast<int>(v * 255.0f + 0.5f), 0, 255))] += 1;
  double total = 0, sum = 0;
  for (size_t i = 0; i < 256; ++i) total += hist[i], sum += static_cast<double>(i) * hist[i];
  double weight0 = 0, sum0 = 0, best = -1;
  size_t best_at = 0;
  for (size_t i = 0; i < 255; ++i) {
    weight0 += hist[i], sum0 += static_cast<double>(i) * hist[i];
    const double weight1 = total - weight0;
    if (weight0 == 0 || weight1 == 0) continue;
    const double mean0 = sum0 / weight0, mean1 = (sum - sum0) / weight1;
    const double between = weight0 * weight1 * (mean0 - mean1) * (mean0 - mean1);
    if (between > best) best = between, best_at = i;
  }
  return (static_cast<float>(best_at) + 0.5f) / 255.0f;
}

struct Component {
  int area = 0, top = 0, bottom = 0, left = 0, right = 0;
  int border_pixels = 0;  // pixels on the picture's edge
  int height() const { return bottom - top + 1; }
  int width() const { return right - left + 1; }
  int extent() const { return std::max(height(), width()); }
};

// 8-connected components of `mask`; labels[i] is the component's index, or -1.
std::vector<Component> components(const std::vector<char>& mask, int rows, int cols, std::vector<int>& labels) {
  std::vector<Component> out;
  labels.assign(mask.size(), -1);
  std::vector<int> stack;
  for (int start = 0; start < rows * cols; ++start) {
    if (!mask[size_t(start)] || labels[size_t(start)] >= 0) continue;
    const int id = static_cast<int>(out.size());
    Component comp;
    comp.top = comp.bottom = start / cols, comp.left = comp.right = start % cols;
    labels[size_t(start)] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      const int r = i / cols, c = i % cols;
      ++comp.area;
      comp.top = std::min(comp.top, r), comp.bottom = std::max(comp.bottom, r);
      comp.left = std::min(comp.left, c), comp.right = std::max(comp.right, c);
      if (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) ++comp.border_pixels;
      for (int dr = -1; dr <= 1; ++dr) {
        for (int dc = -1; dc <= 1; ++dc) {
          const int rr = r + dr, cc = c + dc;
          if (rr < 0 || cc < 0 || rr >= rows || cc >= cols) continue;
          const size_t j = size_t(rr) * size_t(cols) + size_t(cc);
          if (mask[j] && labels[j] < 0) labels[j] = id, stack.push_back(static_cast<int>(j));
        }
      }
    }
    out.push_back(comp);
  }
  return out;
}

// The gap between two boxes (0 when they overlap), in pixels along the wider axis.
int box_gap(const Component& a, const Component& b) {
  const int dy = std::max({0, b.top - a.bottom, a.top - b.bottom});
  const int dx = std::max({0, b.left - a.right, a.left - b.right});
  return std::max(dy, dx);
}

// Grows a group from `seed` over `candidates`: any component within `gap` of the group's box joins.
std::vector<size_t> grow_group(const std::vector<Component>& comps, const std::vector<size_t>& candidates, size_t seed,
                               std::vector<char>& taken) {
  std::vector<size_t> group{seed};
  taken[seed] = 1;
  Component box = comps[seed];
  const int gap = std::max(2, comps[seed].extent() / 12);
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t k : candidates) {
      if (taken[k] || box_gap(box, comps[k]) > gap) continue;
      taken[k] = 1, grew = true;
      group.push_back(k);
      box.top = std::min(box.top, comps[k].top), box.bottom = std::max(box.bottom, comps[k].bottom);
      box.left = std::min(box.left, comps[k].left), box.right = std::max(box.right, comps[k].right);
    }
  }
  return group;
}

}  // namespace

FoundDigit find_digit(const ColourImage& photo) {
  std::array<Plane, 3> channel = working_channels(photo);
  const int rows = channel[0].rows, cols = channel[0].cols;
  const size_t n = size_t(rows) * size_t(cols);
  FoundDigit found;
  found.rows = rows, found.cols = cols;
  found.ink.assign(n, 0.0f);
  // light smoothing against sensor noise and JPEG blocks, on pictures large enough to keep strokes
  if (std::min(rows, cols) >= 100) {
    for (auto& p : channel) p = box_blur(std::move(p), 1);
  }
  const int radius = std::max(2, std::min(rows, cols) / 8);  // window: a quarter of the shorter side

  // polarity: whether the pixels away from the paper's local median are mostly darker or lighter
  Plane luminance(rows, cols);
  for (size_t i = 0; i < n; ++i) luminance.v[i] = 0.299f * channel[0].v[i] + 0.587f * channel[1].v[i] + 0.114f * channel[2].v[i];
  const Plane typical = block_median(luminance, 2 * radius + 1);
  double dark = 0, light = 0;
  for (size_t i = 0; i < n; ++i) {
    const float residual = luminance.v[i] - typical.v[i];
    (residual < 0 ? dark : light) += std::abs(residual);
  }
  found.dark_on_light = dark >= light;

  // ink = 1 − channel / paper, the strongest channel; light ink is inverted first
  Plane ink(rows, cols);
  for (auto& p : channel) {
    if (!found.dark_on_light) {
      for (float& v : p.v) v = 1.0f - v;
    }
    const Plane paper = closing(p, radius);  // unblurred: a blurred shadow edge would read as ink along it
    for (size_t i = 0; i < n; ++i) {
      ink.v[i] = std::max(ink.v[i], std::clamp(1.0f - p.v[i] / std::max(paper.v[i], 0.02f), 0.0f, 1.0f));
    }
  }

  // the paper's noise, robustly: median and MAD of the ink strength, most of which is paper
  const float median = quantile(ink.v, 0.5);
  std::vector<float> deviation(n);
  for (size_t i = 0; i < n; ++i) deviation[i] = std::abs(ink.v[i] - median);
  const float sigma = 1.4826f * quantile(deviation, 0.5);
  const float threshold = std::max({otsu(ink.v), median + 6.0f * sigma, 0.1f});

  std::vector<char> mask(n);
  for (size_t i = 0; i < n; ++i) mask[i] = ink.v[i] > threshold;
  std::vector<int> labels;
  const std::vector<Component> comps = components(mask, rows, cols, labels);

  // candidates: components off the border; only when there are none, those that touch it briefly
  // (a digit cropped tight), never a paper edge running along it
  const int min_area = std::max(4, static_cast<int>(n / 5000));
  std::vector<size_t> candidates;
  for (size_t k = 0; k < comps.size(); ++k) {
    if (comps[k].area >= min_area && comps[k].border_pixels == 0) candidates.push_back(k);
  }
  if (candidates.empty()) {
    for (size_t k = 0; k < comps.size(); ++k) {
      if (comps[k].area >= min_area && comps[k].border_pixels * 4 <= comps[k].extent()) candidates.push_back(k);
    }
  }
  if (candidates.empty()) return found;
  std::sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) { return comps[a].area > comps[b].area; });
  const int largest = comps[candidates[0]].area;
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(), [&](size_t k) { return comps[k].area * 100 < largest * 8; }),
                   candidates.end());

  // groups of nearby components: the largest group is the digit; other big groups are more digits
  std::vector<char> taken(comps.size(), 0);
  std::vector<std::vector<size_t>> groups;
  for (size_t k : candidates) {
    if (!taken[k]) groups.push_back(grow_group(comps, candidates, k, taken));
  }
  auto area_of = [&](const std::vector<size_t>& g) {
    int a = 0;
    for (size_t k : g) a += comps[k].area;
    return a;
  };
  std::stable_sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) { return area_of(a) > area_of(b); });
  const std::vector<size_t>& digit = groups[0];
  Component box = comps[digit[0]];
  for (size_t k : digit) {
    box.top = std::min(box.top, comps[k].top), box.bottom = std::max(box.bottom, comps[k].bottom);
    box.left = std::min(box.left, comps[k].left), box.right = std::max(box.right, comps[k].right);
  }
  found.groups = 1;
  for (size_t g = 1; g < groups.size(); ++g) {
    int height = 0;
    for (size_t k : groups[g]) height = std::max(height, comps[k].height());
    if (area_of(groups[g]) * 4 >= area_of(digit) || height * 2 >= box.height()) ++found.groups;
  }
  if (found.groups == 1 && box.width() * 20 > box.height() * 23) found.groups = 2;  // digits that touch: no digit is this wide
  found.count = found.groups > 1 ? DigitCount::kSeveral : DigitCount::kOne;

  // the digit's pixels and their antialiased edges (2 pixels around), contrast normalised
  Plane keep(rows, cols);
  std::vector<char> in_digit(comps.size(), 0);
  for (size_t k : digit) in_digit[k] = 1;
  std::vector<float> strengths;
  for (size_t i = 0; i < n; ++i) {
    if (labels[i] >= 0 && in_digit[size_t(labels[i])]) keep.v[i] = 1.0f, strengths.push_back(ink.v[i]);
  }
  keep = running_extreme(std::move(keep), 2, true);
  const float zero = median + 3.0f * sigma;
  const float full = std::max(quantile(strengths, 0.9), zero + 0.05f);
  for (size_t i = 0; i < n; ++i) {
    if (keep.v[i] > 0) found.ink[i] = std::clamp((ink.v[i] - zero) / (full - zero), 0.0f, 1.0f);
  }
  return found;
}

}  // namespace gradflow
