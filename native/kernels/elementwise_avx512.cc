// AVX-512 elementwise primitives: the AVX-512 table's (kernels/dispatch.h). Only the maps whose
// cost is arithmetic get 16 lanes (vmath_avx512.h, the same bits as vmath_avx2.h); the rest are
// load/store bound and stay on AVX2's kernels, which are as fast there (bench_elementwise).
// No std:: templates here (see the note at the top of vmath_avx2.h).
// GCC 12 warns inside its own AVX-512 intrinsics (max_ps, cvtps_epi32, extractf64x4_pd, ...: their
// self-initialised pass-through operand, GCC bug 105593, fixed in 13); set before <immintrin.h>.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/simd_avx512.h"
#include "kernels/vmath_avx512.h"

namespace tg {
namespace avx512 {
namespace {

// out = F(x) 16 lanes at a time; the tail through masked loads/stores (no access past n). The dead
// lanes compute on zeros and are never stored, as in AVX2's map8.
template <typename F>
inline void map16(const float* x, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = tail16(n - i);
    _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

// gx = gy·F'(x)
template <typename D>
inline void grad16(const float* x, const float* gy, float* gx, int64_t n, D d) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(gx + i, _mm512_mul_ps(_mm512_loadu_ps(gy + i), d(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 m = tail16(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gy + i);
    _mm512_mask_storeu_ps(gx + i, m, _mm512_mul_ps(g, d(_mm512_maskz_loadu_ps(m, x + i))));
  }
}

void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1) {
  using namespace vmz;
  switch (op) {
    case UnaryOp::Exp: return map16(x, out, n, [](__m512 v) { return exp16(v); });
    case UnaryOp::Log: return map16(x, out, n, [](__m512 v) { return log16(v); });
    case UnaryOp::Sigmoid: return map16(x, out, n, [](__m512 v) { return sigmoid16(v); });
    case UnaryOp::Tanh: return map16(x, out, n, [](__m512 v) { return tanh16(v); });
    case UnaryOp::GeluTanh: return map16(x, out, n, [](__m512 v) { return gelu_tanh16(v); });
    case UnaryOp::GeluErf: return map16(x, out, n, [](__m512 v) { return gelu_erf16(v); });
    case UnaryOp::Erf: return map16(x, out, n, [](__m512 v) { return erf16(v); });
    default: return kElementwiseAvx2.unary(op, x, out, n, p0, p1);
  }
}

void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1) {
  using namespace vmz;
  switch (op) {
    case UnaryOp::GeluTanh: return grad16(x, gy, gx, n, [](__m512 v) { return gelu_tanh_grad16(v); });
    case UnaryOp::GeluErf: return grad16(x, gy, gx, n, [](__m512 v) { return gelu_erf_grad16(v); });
    case UnaryOp::Erf: return grad16(x, gy, gx, n, [](__m512 v) { return erf_grad16(v); });
    default: return kElementwiseAvx2.unary_grad(op, x, y, gy, gx, n, p0, p1);
  }
}

}  // namespace
}  // namespace avx512

// Binary rows and the transpose move memory, not arithmetic: null, AVX2's (isa_avx512.cc).
constexpr ElementwiseKernels kElementwiseAvx512{nullptr, avx512::unary, avx512::unary_grad, nullptr};

}  // namespace tg
