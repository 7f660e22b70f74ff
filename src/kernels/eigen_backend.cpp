// The Eigen backend: Eigen's own blocked, vectorised product, in float and double.
#include "gradflow/kernels/backend.h"

namespace gradflow {

namespace {
class EigenBackend : public ProductBackend {
 public:
  std::string name() const override { return "eigen"; }
  std::string help() const override { return "Eigen's product, float and double"; }
  void block(const BlockProduct<float>& p) const override { eigen_block_product(p); }
  void block(const BlockProduct<double>& p) const override { eigen_block_product(p); }
};
}  // namespace

GRADFLOW_REGISTER_PRODUCT_BACKEND(EigenBackend);

}  // namespace gradflow
