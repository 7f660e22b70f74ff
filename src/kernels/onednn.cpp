#include "gradflow/kernels/onednn.h"

#include <omp.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <vector>

#ifdef GRADFLOW_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif
#include <spdlog/spdlog.h>

#include "gradflow/kernels/backend.h"
#include "gradflow/kernels/gemm.h"
#include "gradflow/parallel.h"

namespace gradflow {

void log_bf16_hardware() {
  static std::once_flag once;
  std::call_once(once, [] {
    const Bf16Hardware& h = bf16_hardware();
    spdlog::info("{}", h.describe());
    if (h.built && !h.native) {
      spdlog::warn("this CPU has no bf16 units (AMX or AVX512-BF16): {}, which is slower than precision fp32 "
                   "here; the products go on in bf16 as asked",
                   h.onednn_kernel ? "oneDNN emulates bf16 products with float32 instructions"
                                   : "gradflow emulates bf16 products, as the line above says");
    }
  });
}

std::string Bf16Hardware::describe() const {
  if (!built) return "bf16 products: not built (gradflow without oneDNN)";
  if (!onednn_kernel) return "bf16 products: " + units + ", " + implementation + " (" + library + " has no bf16 matmul without AVX-512)";
  return "bf16 products: " + library + " on " + units + " (" + implementation + ")";
}

#ifndef GRADFLOW_HAVE_ONEDNN

void bf16_gemm(bool, bool, const Eigen::Ref<const MatrixBf16>&, const Eigen::Ref<const MatrixBf16>&,
               Eigen::Ref<MatrixT<float>>, bool, const float*) {
  throw std::logic_error("gradflow: bf16_gemm without oneDNN (use_precision refuses bf16 in this build)");
}
const Bf16Hardware& bf16_hardware() {
  static const Bf16Hardware none;
  return none;
}
int64_t bf16_primitives_created() { return 0; }

#else

namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

// Everything a primitive depends on.
struct Key {
  bool f32;  // float32 operands (the "onednn" product backend), else bfloat16
  bool transpose_a, transpose_b, accumulate, bias;
  int64_t m, n, k, lda, ldb, ldc;
  int threads;
  bool operator==(const Key& o) const {
    return f32 == o.f32 && transpose_a == o.transpose_a && transpose_b == o.transpose_b && accumulate == o.accumulate &&
           bias == o.bias && m == o.m && n == o.n && k == o.k && lda == o.lda && ldb == o.ldb && ldc == o.ldc &&
           threads == o.threads;
  }
};
struct KeyHash {
  size_t operator()(const Key& key) const {
    size_t h = 0;
    for (int64_t v : {int64_t(key.f32), int64_t(key.transpose_a), int64_t(key.transpose_b), int64_t(key.accumulate), int64_t(key.bias),
                      key.m, key.n, key.k, key.lda, key.ldb, key.ldc, int64_t(key.threads)}) {
      h = h * 1000003u ^ std::hash<int64_t>()(v);
    }
    return h;
  }
};

// One shape's primitive, with memory objects whose data pointers are set at every call.
struct Product {
  dnnl::matmul primitive;
  dnnl::memory a, b, c, bias, scratchpad;
  dnnl_exec_arg_t args[5];
  int argc = 0;
  std::string implementation;
};

class Products {
 public:
  // One cache per thread: the "onednn" backend multiplies one block on each of gemm()'s threads
  // at once, and a primitive's memory objects and the scratchpad serve one product at a time.
  static Products& instance() {
    static thread_local Products products;
    return products;
  }

  Product& get(const Key& key) {
    auto found = cache_.find(key);
    if (found != cache_.end()) return *found->second;
    auto made = create(key);
    Product& product = *made;
    cache_.emplace(key, std::move(made));
    return product;
  }

  // The scratchpad buffer, at least `bytes` long (64-byte aligned).
  void* scratchpad(size_t bytes) {
    if (bytes + 64 > scratch_.size()) scratch_.resize(bytes + 64);
    auto address = reinterpret_cast<uintptr_t>(scratch_.data());
    return scratch_.data() + ((64 - address % 64) % 64);
  }

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  int64_t created = 0;

 private:
  std::unique_ptr<Product> create(const Key& key) {
    // op(a): (m, k), op(b): (k, n): a transposed operand is the same storage read with swapped strides
    const dims a_strides = key.transpose_a ? dims{1, key.lda} : dims{key.lda, 1};
    const dims b_strides = key.transpose_b ? dims{1, key.ldb} : dims{key.ldb, 1};
    const dt operands = key.f32 ? dt::f32 : dt::bf16;
    const dnnl::memory::desc a_md({key.m, key.k}, operands, a_strides);
    const dnnl::memory::desc b_md({key.k, key.n}, operands, b_strides);
    const dnnl::memory::desc c_md({key.m, key.n}, dt::f32, dims{key.ldc, 1});
    const dnnl::memory::desc bias_md({1, key.n}, dt::f32, dims{key.n, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (key.accumulate) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    const auto desc = key.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine);
    auto p = std::make_unique<Product>();
    p->primitive = dnnl::matmul(pd);
    p->implementation = pd.impl_info_str();
    p->a = dnnl::memory(a_md, engine, nullptr);
    p->b = dnnl::memory(b_md, engine, nullptr);
    p->c = dnnl::memory(c_md, engine, nullptr);
    p->scratchpad = dnnl::memory(pd.scratchpad_desc(), engine, scratchpad(pd.scratchpad_desc().get_size()));
    p->args[p->argc++] = {DNNL_ARG_SRC, p->a.get()};
    p->args[p->argc++] = {DNNL_ARG_WEIGHTS, p->b.get()};
    p->args[p->argc++] = {DNNL_ARG_DST, p->c.get()};
    p->args[p->argc++] = {DNNL_ARG_SCRATCHPAD, p->scratchpad.get()};
    if (key.bias) {
      p->bias = dnnl::memory(bias_md, engine, nullptr);
      p->args[p->argc++] = {DNNL_ARG_BIAS, p->bias.get()};
    }
    ++created;
    return p;
  }

  std::unordered_map<Key, std::unique_ptr<Product>, KeyHash> cache_;
  std::vector<char> scratch_;
};

void check(dnnl_status_t status, const char* what) {
  if (status != dnnl_success) {
    throw std::runtime_error(std::string("oneDNN: ") + what + " failed (status " + std::to_string(int(status)) + ")");
  }
}

template <typename Ref>
int64_t leading(const Ref& m) {
  return static_cast<int64_t>(m.outerStride());
}

// One product c = op(a) · op(b) of element type T (bfloat16 or float) with float32 accumulation;
// returns the primitive's product (null when there was nothing to multiply). A product, once
// created, lives as long as its thread and never changes.
template <typename T>
const Product* multiply(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                        const T* b, int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias) {
  eigen_assert(!(accumulate && bias) && "oneDNN product: bias or accumulate, not both");
  if (m == 0 || n == 0) return nullptr;
  if (k == 0) {
    Eigen::Map<MatrixT<float>, 0, Eigen::OuterStride<>> out(c, m, n, Eigen::OuterStride<>(ldc));
    if (!accumulate) out.setZero();
    if (bias != nullptr) out.rowwise() += Eigen::Map<const RowVectorT<float>>(bias, n);
    return nullptr;
  }
  const Key key{std::is_same_v<T, float>, transpose_a, transpose_b, accumulate, bias != nullptr, m, n, k, lda, ldb, ldc,
                omp_in_parallel() ? 1 : omp_get_max_threads()};
  Products& products = Products::instance();
  Product* p = nullptr;
  try {
    p = &products.get(key);
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("oneDNN could not create a product: ") + e.what());
  }
  check(dnnl_memory_set_data_handle(p->a.get(), const_cast<T*>(a)), "setting an operand");
  check(dnnl_memory_set_data_handle(p->b.get(), const_cast<T*>(b)), "setting an operand");
  check(dnnl_memory_set_data_handle(p->c.get(), c), "setting the result");
  if (bias != nullptr) check(dnnl_memory_set_data_handle(p->bias.get(), const_cast<float*>(bias)), "setting the bias");
  // the scratchpad buffer may have grown (and moved) since this primitive was created
  const size_t scratch_bytes = p->scratchpad.get_desc().get_size();
  check(dnnl_memory_set_data_handle(p->scratchpad.get(), products.scratchpad(scratch_bytes)), "setting the scratchpad");
  check(dnnl_primitive_execute(p->primitive.get(), products.stream.get(), p->argc, p->args), "a product");
  check(dnnl_stream_wait(products.stream.get()), "waiting for a product");
  return p;
}

const Product* multiply(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixBf16>& a,
                        const Eigen::Ref<const MatrixBf16>& b, Eigen::Ref<MatrixT<float>> c, bool accumulate,
                        const float* bias) {
  const int64_t m = transpose_a ? a.cols() : a.rows();
  const int64_t k = transpose_a ? a.rows() : a.cols();
  const int64_t n = transpose_b ? b.rows() : b.cols();
  eigen_assert(c.rows() == m && c.cols() == n && "bf16_gemm: a product into a view of another shape");
  return multiply(transpose_a, transpose_b, m, n, k, a.data(), leading(a), b.data(), leading(b), c.data(), leading(c),
                  accumulate, bias);
}

// A bfloat16 view widened to float32 (exactly) into `buffer`, which grows and never shrinks, so
// that products of a step allocate nothing once the largest operand has been seen.
Eigen::Map<MatrixT<float>> widened(const Eigen::Ref<const MatrixBf16>& m, std::vector<float>& buffer) {
  if (buffer.size() < static_cast<size_t>(m.size())) buffer.resize(static_cast<size_t>(m.size()));
  Eigen::Map<MatrixT<float>> out(buffer.data(), m.rows(), m.cols());
  for_row_blocks(m.rows(), m.cols(), [&](int64_t begin, int64_t end) {
    out.middleRows(begin, end - begin) = m.middleRows(begin, end - begin).cast<float>();
  });
  return out;
}

// bf16_gemm where oneDNN has no bf16 matmul (CPUs without AVX-512): the bfloat16 operands widened
// to float32 and multiplied by the float32 products (kernels/gemm.h), bias first as Dense does.
void widened_gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixBf16>& a,
                  const Eigen::Ref<const MatrixBf16>& b, Eigen::Ref<MatrixT<float>> c, bool accumulate,
                  const float* bias) {
  thread_local std::vector<float> a_buffer, b_buffer;
  if (bias != nullptr) {
    const Eigen::Map<const RowVectorT<float>> row(bias, c.cols());
    for_row_blocks(c.rows(), c.cols(), [&](int64_t begin, int64_t end) { c.middleRows(begin, end - begin).rowwise() = row; });
    accumulate = true;
  }
  gemm<float>(transpose_a, transpose_b, widened(a, a_buffer), widened(b, b_buffer), c, accumulate);
}

// The "onednn" product backend: each of gemm()'s blocks is one float32 oneDNN product on the
// calling thread. Not "auto"'s choice: its sums are ordered otherwise than OpenBLAS's, and fp32
// training stays bit for bit what it was unless a config asks for it
// (scripts/bench-backends.sh measures where it is faster).
class OneDnnBackend : public ProductBackend {
 public:
  std::string name() const override { return "onednn"; }
  std::string help() const override { return "oneDNN's float32 matmul for every float block, Eigen for double"; }
  int priority() const override { return -1; }  // never "auto"'s choice
  void block(const BlockProduct<float>& p) const override {
    // rows of op(a) are rows of a, or columns of a when it is transposed; likewise columns of op(b)
    const float* a_rows = p.transpose_a ? p.a.data() + p.row : p.a.data() + p.row * p.a.outerStride();
    const float* b_cols = p.transpose_b ? p.b.data() + p.col * p.b.outerStride() : p.b.data() + p.col;
    // a backend computes its block on the calling thread alone (gemm() outside a parallel region
    // hands over products too small to split): oneDNN threads up to omp_get_max_threads()
    struct OneThread {
      int threads = omp_get_max_threads();
      OneThread() { omp_set_num_threads(1); }
      ~OneThread() { omp_set_num_threads(threads); }
    } one_thread;
    multiply(p.transpose_a, p.transpose_b, p.rows, p.cols, p.depth(), a_rows, p.a.outerStride(), b_cols,
             p.b.outerStride(), p.c.data() + p.row * p.c.outerStride() + p.col, p.c.outerStride(), p.accumulate,
             nullptr);
  }
  void block(const BlockProduct<double>& p) const override { eigen_block_product(p); }
};

}  // namespace

GRADFLOW_REGISTER_PRODUCT_BACKEND(OneDnnBackend);

void bf16_gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixBf16>& a,
               const Eigen::Ref<const MatrixBf16>& b, Eigen::Ref<MatrixT<float>> c, bool accumulate,
               const float* bias) {
  eigen_assert(!(accumulate && bias) && "bf16_gemm: bias or accumulate, not both");
  if (!bf16_hardware().onednn_kernel) {
    widened_gemm(transpose_a, transpose_b, a, b, c, accumulate, bias);
    return;
  }
  multiply(transpose_a, transpose_b, a, b, c, accumulate, bias);
}

const Bf16Hardware& bf16_hardware() {
  static const Bf16Hardware found = [] {
    Bf16Hardware h;
    h.built = true;
    const dnnl_version_t* v = dnnl_version();
    h.library = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    // the shape of a dense layer's forward, 128 × 784 by 784 × 512 (the kernel oneDNN picks for
    // bf16 is the same across these MLPs' shapes)
    MatrixBf16 a = MatrixBf16::Zero(128, 784), b = MatrixBf16::Zero(512, 784);
    MatrixT<float> c(128, 512);
    try {
      h.implementation = multiply(false, true, a, b, c, false, nullptr)->implementation;
      h.onednn_kernel = true;
    } catch (const std::runtime_error&) {
      // no bf16 matmul in oneDNN for this CPU (it needs AVX-512): gradflow's widened products
      h.units = "no bf16 units (emulated by gradflow)";
      h.implementation = "float32 products of the bfloat16 operands";
      return h;
    }
    // the instructions oneDNN may use here (ONEDNN_MAX_CPU_ISA can lower them)
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    if (isa == dnnl::cpu_isa::avx512_core_amx) {
      h.units = "AMX";
      h.native = true;
    } else if (isa == dnnl::cpu_isa::avx512_core_bf16) {
      h.units = "AVX512-BF16";
      h.native = true;
    } else {
      h.units = "no bf16 units (emulated in float32 instructions)";
    }
    return h;
  }();
  return found;
}

int64_t bf16_primitives_created() {
  return Products::instance().created;
}

#endif

}  // namespace gradflow
