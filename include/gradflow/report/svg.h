#pragma once
// Small inline-SVG charts for the run report: no scripts, no external resources.
#include <string>
#include <vector>

namespace gradflow::svg {

struct Series {
  std::string name;
  std::string color;
  std::vector<double> x, y;
};

// A line chart with axes, ticks and a legend. log_y plots log10(y) for y > 0.
std::string line_chart(const std::string& title, const std::string& x_label, const std::vector<Series>& series,
                       bool log_y = false);

struct Bin {
  double lower, upper, confidence, accuracy;
  long long count;
};
// Accuracy per confidence bin as bars, the diagonal of perfect calibration, and the gap to it.
std::string reliability_diagram(const std::string& title, const std::vector<Bin>& bins);
// Sample counts per confidence bin, two overlaid series (before / after).
std::string confidence_histogram(const std::string& title, const std::vector<Bin>& before, const std::vector<Bin>& after);
// counts[row][col] as a heat map with the numbers written in the cells.
std::string heat_map(const std::string& title, const std::string& row_label, const std::string& col_label,
                     const std::vector<std::vector<long long>>& counts);

std::string escape(const std::string& text);

}  // namespace gradflow::svg
