#include "gradflow/calibration/metrics.h"

#include <algorithm>
#include <cmath>

#include "gradflow/errors.h"
#include "gradflow/softmax.h"

namespace gradflow {

nlohmann::json CalibrationMetrics::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& b : bins) {
    list.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count}, {"confidence", b.confidence},
                    {"accuracy", b.accuracy}});
  }
  return {{"samples", count}, {"accuracy", accuracy}, {"nll", nll}, {"brier", brier}, {"ece", ece}, {"mce", mce},
          {"bins", list}};
}

MatrixT<double> softmax(const Matrix& logits, double temperature) {
  MatrixT<double> p(logits.rows(), logits.cols());
  for (Eigen::Index i = 0; i < p.rows(); ++i) softmax(logits.row(i).cast<double>(), 1.0 / temperature, p.row(i));
  return p;
}

CalibrationMetrics metrics_from_probabilities(const MatrixT<double>& p, const Labels& labels, int bins) {
  CalibrationMetrics m;
  m.count = p.rows();
  m.bins.resize(static_cast<size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    m.bins[static_cast<size_t>(b)].lower = static_cast<double>(b) / bins;
    m.bins[static_cast<size_t>(b)].upper = static_cast<double>(b + 1) / bins;
  }
  if (m.count == 0) return m;
  std::vector<double> confidence_sum(static_cast<size_t>(bins), 0.0), correct_sum(static_cast<size_t>(bins), 0.0);
  double nll = 0, brier = 0;
  int64_t correct = 0;
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    Eigen::Index predicted = 0;
    const double confidence = p.row(i).maxCoeff(&predicted);
    const bool hit = predicted == labels[i];
    correct += hit;
    nll += -std::log(std::max(p(i, labels[i]), 1e-300));
    const double miss = 1.0 - p(i, labels[i]);
    brier += p.row(i).squaredNorm() - p(i, labels[i]) * p(i, labels[i]) + miss * miss;
    // bins (lo, hi]: ceil(c·M) − 1, with c = 0 in bin 0
    const int b = std::clamp(static_cast<int>(std::ceil(confidence * bins)) - 1, 0, bins - 1);
    confidence_sum[static_cast<size_t>(b)] += confidence;
    correct_sum[static_cast<size_t>(b)] += hit ? 1.0 : 0.0;
    m.bins[static_cast<size_t>(b)].count += 1;
  }
  const double n = static_cast<double>(m.count);
  m.accuracy = static_cast<double>(correct) / n;
  m.nll = nll / n;
  m.brier = brier / n;
  for (size_t b = 0; b < m.bins.size(); ++b) {
    ReliabilityBin& bin = m.bins[b];
    if (bin.count == 0) continue;
    bin.confidence = confidence_sum[b] / static_cast<double>(bin.count);
    bin.accuracy = correct_sum[b] / static_cast<double>(bin.count);
    const double gap = std::fabs(bin.accuracy - bin.confidence);
    m.ece += static_cast<double>(bin.count) / n * gap;
    m.mce = std::max(m.mce, gap);
  }
  return m;
}

CalibrationMetrics calibration_metrics(const Matrix& logits, const Labels& labels, double temperature, int bins) {
  if (!logits.allFinite()) throw InputError("logits contain non-finite values");
  if (bins < 1) throw InputError("the number of bins must be at least 1");
  CalibrationMetrics m = metrics_from_probabilities(softmax(logits, temperature), labels, bins);
  // NLL from logsumexp rather than log(p), exact even where p underflows
  double nll = 0;
  const double u = 1.0 / temperature;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    const auto z = logits.row(i).cast<double>();
    const LogSumExp<double> row = log_sum_exp(z, u);
    nll += row.log_sum + (row.max - z(labels[i])) * u;
  }
  if (logits.rows() > 0) m.nll = nll / static_cast<double>(logits.rows());
  return m;
}

std::vector<std::vector<int64_t>> confusion_matrix(const MatrixT<double>& scores, const Labels& labels) {
  const auto classes = static_cast<size_t>(scores.cols());
  std::vector<std::vector<int64_t>> counts(classes, std::vector<int64_t>(classes, 0));
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    Eigen::Index predicted = 0;
    scores.row(i).maxCoeff(&predicted);
    counts[static_cast<size_t>(labels[i])][static_cast<size_t>(predicted)] += 1;
  }
  return counts;
}

}  // namespace gradflow
