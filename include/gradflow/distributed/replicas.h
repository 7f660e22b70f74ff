#pragma once
// Data-parallel ranks must hold the same model after every step: the same parameters and the
// same buffers (batch norm's running statistics). A checksum of each rank's, compared across
// the ranks, shows whether they do (training.check_replicas).
#include <cstdint>

#include "gradflow/distributed/communicator.h"
#include "gradflow/model.h"

namespace gradflow {

// A 64-bit checksum of the model's parameters and buffers, bit for bit.
uint64_t model_checksum(Sequential<float>& model);

// On every rank: throws DivergenceError, on every rank alike, when the ranks' checksums differ.
// `step` names the step in the message.
void check_replicas(Sequential<float>& model, Communicator& ranks, int64_t step);

}  // namespace gradflow
