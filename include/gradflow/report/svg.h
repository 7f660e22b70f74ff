#pragma once
// Small inline-SVG charts for the run report: no scripts, no external resources.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gradflow::svg {

struct Series {
  std::string name;
  std::string color;
  std::vector<double> x, y;
};

// Round tick values ("nice numbers", Heckbert 1990): a step of 1, 2 or 5 × 10^k giving about
// `target` ticks, from the last multiple of the step at or below lo to the first at or above hi.
// integer: the step is at least 1 (epochs, steps).
std::vector<double> nice_ticks(double lo, double hi, int target = 5, bool integer = false);

struct ChartOptions {
  bool log_y = false;       // plot log10(y) for y > 0; ticks at powers of ten
  bool integer_x = false;   // x is a count (epochs, steps): integer ticks only
  bool fraction_y = false;  // y is a fraction of 1 (accuracy): the axis ends at 1, labelled in percent
};

// A line chart with axes, round ticks and a legend.
std::string line_chart(const std::string& title, const std::string& x_label, const std::vector<Series>& series,
                       const ChartOptions& options = {});

struct Bin {
  double lower, upper, confidence, accuracy;
  long long count;
  // the 95% range a calibrated model with these confidences would show as this bin's accuracy
  // (the noise floor's consistency band); absent for an empty bin or an older calibration.json
  std::optional<std::pair<double, double>> band;
};
// The sample count under which a reliability bin is drawn faded: 1% of all samples, at least 10.
long long few_samples(const std::vector<Bin>& bins);
// Accuracy per confidence bin as bars with their sample counts written above them, the diagonal of
// perfect calibration, and the gap to it (over- and under-confident apart); a bin's band, when it
// has one, as a light box around the diagonal. A bin with fewer than few_samples(bins) samples is
// drawn with opacity count / few_samples, at least 0.15.
// equal_mass: the bins hold equal shares of the samples, and each is drawn that wide, side by
// side along the x axis (the share of samples, by confidence); perfect calibration is then each
// bin's mean confidence, a step line, and the y axis starts below the lowest value shown.
std::string reliability_diagram(const std::string& title, const std::vector<Bin>& bins, bool equal_mass = false);
// Sample counts per confidence bin, two overlaid series (before / after, named in the legend).
std::string confidence_histogram(const std::string& title, const std::vector<Bin>& before, const std::vector<Bin>& after,
                                 const std::string& before_name = "before T", const std::string& after_name = "after T");
// counts[row][col] as a heat map with the numbers written in the cells; rows and columns are
// labelled by `labels` (their indices where it is short).
std::string heat_map(const std::string& title, const std::string& row_label, const std::string& col_label,
                     const std::vector<std::vector<long long>>& counts, const std::vector<std::string>& labels = {});

std::string escape(const std::string& text);

// The colour of the i-th of several series (a categorical palette of 10, repeating after that).
std::string series_color(size_t index);

}  // namespace gradflow::svg
