#include "gradflow/data/dataset.h"

#include "gradflow/errors.h"

namespace gradflow {

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "validation") return Split::Validation;
  if (name == "test") return Split::Test;
  throw InputError("unknown split \"" + name + "\" (expected train, validation or test)");
}

std::string split_name(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Validation: return "validation";
    case Split::Test: return "test";
  }
  return "?";
}

}  // namespace gradflow
