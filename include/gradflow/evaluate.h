#pragma once
// Loss and accuracy of a model over a whole dataset, in eval mode.
#include <nlohmann/json.hpp>

#include "gradflow/data/dataset.h"
#include "gradflow/distributed/communicator.h"
#include "gradflow/model.h"

namespace gradflow {

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy at the head's temperature
  double accuracy = 0.0;  // fraction of argmax predictions equal to the label
  int64_t count = 0;
  nlohmann::json to_json() const { return {{"loss", loss}, {"accuracy", accuracy}, {"samples", count}}; }
};

// With `ranks` (data-parallel training), each rank evaluates its share of the rows
// (rank_rows()) and the sums are reduced: every rank returns the whole dataset's result.
EvalResult evaluate(Sequential<float>& model, const Dataset& data, int64_t batch_size = 1000,
                    Communicator* ranks = nullptr);

// The raw logits (the last layer's output, before the head), (N, classes), in eval mode.
Matrix predict_logits(Sequential<float>& model, const Matrix& images, int64_t batch_size = 1000);

}  // namespace gradflow
