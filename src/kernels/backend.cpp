#include "gradflow/kernels/backend.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "gradflow/errors.h"

namespace gradflow {

namespace {
std::atomic<const ProductBackend*> current{nullptr};
}

template <typename Scalar>
void eigen_block_product(const BlockProduct<Scalar>& p) {
  auto out = p.c.block(p.row, p.col, p.rows, p.cols);
  if (!p.accumulate) out.setZero();
  if (p.transpose_a && p.transpose_b) {
    out.noalias() += p.a.middleCols(p.row, p.rows).transpose() * p.b.middleRows(p.col, p.cols).transpose();
  } else if (p.transpose_a) {
    out.noalias() += p.a.middleCols(p.row, p.rows).transpose() * p.b.middleCols(p.col, p.cols);
  } else if (p.transpose_b) {
    out.noalias() += p.a.middleRows(p.row, p.rows) * p.b.middleRows(p.col, p.cols).transpose();
  } else {
    out.noalias() += p.a.middleRows(p.row, p.rows) * p.b.middleCols(p.col, p.cols);
  }
}
template void eigen_block_product<float>(const BlockProduct<float>&);
template void eigen_block_product<double>(const BlockProduct<double>&);

ProductBackends& ProductBackends::instance() {
  static ProductBackends backends;
  return backends;
}

bool ProductBackends::add(std::unique_ptr<ProductBackend> backend) {
  if (find(backend->name()) != nullptr || backend->name() == "auto") {
    throw std::logic_error("gradflow: product backend \"" + backend->name() + "\" is registered twice");
  }
  backends_.push_back(std::move(backend));
  std::stable_sort(backends_.begin(), backends_.end(),
                   [](const auto& x, const auto& y) { return x->priority() > y->priority(); });
  return true;
}

const ProductBackend* ProductBackends::find(const std::string& name) const {
  for (const auto& b : backends_) {
    if (b->name() == name) return b.get();
  }
  return nullptr;
}

std::vector<const ProductBackend*> ProductBackends::all() const {
  std::vector<const ProductBackend*> out;
  for (const auto& b : backends_) out.push_back(b.get());
  return out;
}

std::vector<std::string> ProductBackends::names() const {
  std::vector<std::string> out{"auto"};
  for (const auto& b : backends_) out.push_back(b->name());
  return out;
}

void use_product_backend(const std::string& name) {
  const ProductBackends& backends = ProductBackends::instance();
  const ProductBackend* chosen = name == "auto" ? backends.all().front() : backends.find(name);
  if (chosen == nullptr) throw InputError("unknown product backend \"" + name + "\"");
  current = chosen;
}

const ProductBackend& product_backend() {
  const ProductBackend* b = current.load();
  if (b == nullptr) {
    b = ProductBackends::instance().all().front();
    current = b;
  }
  return *b;
}

}  // namespace gradflow
