#include "gradflow/kernels/bfloat16.h"

#include <atomic>
#include <cstring>

#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "gradflow/errors.h"
#include "gradflow/parallel.h"

namespace gradflow {

namespace {

std::atomic<Precision> current{Precision::FP32};

// n floats to bfloat16, round to nearest even.
void convert(const float* src, bfloat16* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512BF16__) && defined(__AVX512F__)
  // the CPU's own conversion, 16 at a time (it also flushes denormals to zero, as oneDNN does)
  for (; i + 16 <= n; i += 16) {
    const __m256bh packed = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), reinterpret_cast<const __m256i&>(packed));
  }
#endif
  for (; i < n; ++i) dst[i] = bfloat16(src[i]);  // Eigen's conversion: also to nearest even
}

}  // namespace

void to_bfloat16(const Eigen::Ref<const MatrixT<float>>& src, MatrixBf16& dst) {
  dst.resize(src.rows(), src.cols());
  const bool contiguous = src.outerStride() == src.cols();
  for_row_blocks(src.rows(), src.cols(), [&](int64_t begin, int64_t end) {
    if (contiguous) {
      convert(src.data() + begin * src.cols(), dst.data() + begin * src.cols(), (end - begin) * src.cols());
    } else {
      for (int64_t r = begin; r < end; ++r) convert(src.row(r).data(), dst.row(r).data(), src.cols());
    }
  });
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  throw InputError("unknown precision \"" + name + "\" (fp32 or bf16)");
}

std::string precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

bool bf16_products_built() {
#ifdef GRADFLOW_HAVE_ONEDNN
  return true;
#else
  return false;
#endif
}

void use_precision(Precision p) {
  if (p == Precision::BF16 && !bf16_products_built()) {
    throw InputError("precision bf16 needs oneDNN, and this gradflow was built without it "
                     "(install libdnnl-dev and rebuild, or set \"precision\": \"fp32\")");
  }
  current = p;
}

Precision product_precision() { return current.load(); }

}  // namespace gradflow
