#pragma once
// The part of a global batch this process computes, in data-parallel training: rows
// [begin, begin + B) of a batch of `global_rows` rows that `ranks` split between them. Layers
// whose training forward reads across the batch (batch norm) or draws per row (dropout) use it
// to compute what one process would compute on the whole global batch.
#include <cstdint>

#include "gradflow/distributed/communicator.h"

namespace gradflow {

struct BatchShard {
  Communicator* ranks = nullptr;  // null: the batch is the whole batch
  int64_t begin = 0;              // this slice's first row in the global batch
  int64_t global_rows = 0;        // rows in the global batch
  bool split() const { return ranks != nullptr && ranks->distributed(); }
};

}  // namespace gradflow
