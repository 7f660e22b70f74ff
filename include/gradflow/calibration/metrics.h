#pragma once
// Calibration metrics of a classifier's probabilities, from logits and a temperature T
// (p = softmax(z / T)), computed in double:
//   accuracy, NLL = mean −log p_y, Brier = mean Σ_k (p_k − y_k)²,
//   ECE = Σ_b (n_b / N)·|acc_b − conf_b|, MCE = max_b |acc_b − conf_b| over non-empty bins,
// with equal-width bins (lo, hi] over the top-label confidence (a confidence of 0 goes to bin 0).
#include <nlohmann/json.hpp>
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

struct ReliabilityBin {
  double lower = 0, upper = 0;  // (lower, upper]
  int64_t count = 0;
  double confidence = 0;  // mean top-label confidence in the bin
  double accuracy = 0;    // fraction correct in the bin
};

struct CalibrationMetrics {
  int64_t count = 0;
  double accuracy = 0, nll = 0, brier = 0, ece = 0, mce = 0;
  std::vector<ReliabilityBin> bins;
  nlohmann::json to_json() const;
};

// probabilities: (N, C), rows summing to 1; labels: (N)
CalibrationMetrics metrics_from_probabilities(const MatrixT<double>& probabilities, const Labels& labels, int bins = 15);
// logits: (N, C); InputError for non-finite logits
CalibrationMetrics calibration_metrics(const Matrix& logits, const Labels& labels, double temperature, int bins = 15);

// softmax(z / T) row by row, in double, max subtracted
MatrixT<double> softmax(const Matrix& logits, double temperature);

// The confusion matrix of scores (N, C) — logits or probabilities, the prediction is each row's
// largest: counts[true][predicted]
std::vector<std::vector<int64_t>> confusion_matrix(const MatrixT<double>& scores, const Labels& labels);

}  // namespace gradflow
