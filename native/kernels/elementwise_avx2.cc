// AVX2+FMA elementwise primitives: the AVX2 table's, and the AVX-512 table's where that has none of
// its own (kernels/dispatch.h).
// No std:: templates here (see the note at the top of vmath_avx2.h); libm calls are fine.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/clamp_bounds.h"
#include "kernels/dispatch.h"
#include "kernels/simd_avx2.h"
#include "kernels/transpose_tiles.h"
#include "kernels/vmath_avx2.h"

namespace tg {
namespace avx2 {
namespace {

// ---- binary rows ---------------------------------------------------------------------------------

struct AddOp {
  static __m256 v(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static float s(float a, float b) { return a + b; }
};
struct SubOp {
  static __m256 v(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
  static float s(float a, float b) { return a - b; }
};
struct MulOp {
  static __m256 v(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  static float s(float a, float b) { return a * b; }
};
struct DivOp {
  static __m256 v(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
  static float s(float a, float b) { return a / b; }
};

template <typename Op>
void row_t(const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len) {
  int64_t i = 0;
  if (as == 1 && bs == 1) {
    for (; i + 16 <= len; i += 16) {
      const __m256 r0 = Op::v(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
      const __m256 r1 = Op::v(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
      _mm256_storeu_ps(out + i, r0);
      _mm256_storeu_ps(out + i + 8, r1);
    }
    for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, Op::v(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < len; i++) out[i] = Op::s(a[i], b[i]);
  } else if (as == 1 && bs == 0) {
    const float y = b[0];
    const __m256 vy = _mm256_set1_ps(y);
    for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, Op::v(_mm256_loadu_ps(a + i), vy));
    for (; i < len; i++) out[i] = Op::s(a[i], y);
  } else if (as == 0 && bs == 1) {
    const float x = a[0];
    const __m256 vx = _mm256_set1_ps(x);
    for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, Op::v(vx, _mm256_loadu_ps(b + i)));
    for (; i < len; i++) out[i] = Op::s(x, b[i]);
  } else {  // both broadcast along the row (or strides other than 0/1, which the driver never makes)
    for (; i < len; i++) out[i] = Op::s(a[i * as], b[i * bs]);
  }
}

// ---- unary maps ----------------------------------------------------------------------------------

// out = F(x) 8 lanes at a time; the tail goes through masked loads/stores (no reads past n).
template <typename F>
inline void map8(const float* x, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(x + i, m)));
  }
}

// Ops evaluated in double go 4 lanes at a time, from ld4 to st4 (bit-identical to the scalar
// path, which performs the same double operations); the tail is done by the scalar expression.
inline void st4(float* p, __m256d v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }

void binary_row(BinaryOp op, const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len) {
  switch (op) {
    case BinaryOp::Add: return row_t<AddOp>(a, as, b, bs, out, len);
    case BinaryOp::Sub: return row_t<SubOp>(a, as, b, bs, out, len);
    case BinaryOp::Mul: return row_t<MulOp>(a, as, b, bs, out, len);
    case BinaryOp::Div: return row_t<DivOp>(a, as, b, bs, out, len);
  }
}

void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1) {
  using namespace vm;
  switch (op) {
    case UnaryOp::Neg:
      return map8(x, out, n, [](__m256 v) { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); });
    case UnaryOp::Abs: return map8(x, out, n, [](__m256 v) { return vabs(v); });
    case UnaryOp::Sqrt: return map8(x, out, n, [](__m256 v) { return _mm256_sqrt_ps(v); });
    case UnaryOp::Exp: return map8(x, out, n, [](__m256 v) { return exp8(v); });
    case UnaryOp::Log: return map8(x, out, n, [](__m256 v) { return log8(v); });
    case UnaryOp::Pow:
      if (p0 == 2.0) return map8(x, out, n, [](__m256 v) { return _mm256_mul_ps(v, v); });
      for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(std::pow(static_cast<double>(x[i]), p0));
      return;
    case UnaryOp::Clamp: {
      const __m256 lo_t = _mm256_set1_ps(float_at_or_above(p0)), hi_t = _mm256_set1_ps(float_at_or_below(p1));
      const __m256 lo = _mm256_set1_ps(static_cast<float>(p0)), hi = _mm256_set1_ps(static_cast<float>(p1));
      // v < lo_t ? lo : v > hi_t ? hi : v   (NaN stays NaN: both compares are false)
      return map8(x, out, n, [=](__m256 v) {
        const __m256 r = _mm256_blendv_ps(v, hi, _mm256_cmp_ps(v, hi_t, _CMP_GT_OQ));
        return _mm256_blendv_ps(r, lo, _mm256_cmp_ps(v, lo_t, _CMP_LT_OQ));
      });
    }
    case UnaryOp::Relu:
      // max_ps returns its second operand when either is NaN or both are zeros: relu(NaN) = NaN
      // and relu(-0) = -0, as `v < 0 ? 0 : v` in unary.ts and PyTorch.
      return map8(x, out, n, [](__m256 v) { return _mm256_max_ps(_mm256_setzero_ps(), v); });
    case UnaryOp::LeakyRelu: {
      // v > 0 ? v : (float)(v·slope), the product in double as in unary.ts.
      const __m256d s = _mm256_set1_pd(p0);
      int64_t i = 0;
      for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), s));
        const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), s));
        const __m256 neg = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
        _mm256_storeu_ps(out + i, _mm256_blendv_ps(neg, v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ)));
      }
      for (; i < n; i++) {
        const float v = x[i];
        out[i] = v > 0.0f ? v : static_cast<float>(static_cast<double>(v) * p0);
      }
      return;
    }
    case UnaryOp::Sigmoid: return map8(x, out, n, [](__m256 v) { return sigmoid8(v); });
    case UnaryOp::Tanh: return map8(x, out, n, [](__m256 v) { return tanh8(v); });
    case UnaryOp::GeluTanh: return map8(x, out, n, [](__m256 v) { return gelu_tanh8(v); });
    case UnaryOp::GeluErf: return map8(x, out, n, [](__m256 v) { return gelu_erf8(v); });
    case UnaryOp::Erf: return map8(x, out, n, [](__m256 v) { return erf8(v); });
  }
  (void)p1;
}

// Returns false for the ops left to the scalar path (general pow: a libm call per element either way).
bool unary_grad_vector(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                       double p1) {
  using namespace vm;
  int64_t i = 0;
  switch (op) {
    case UnaryOp::Neg:
      map8(gy, gx, n, [](__m256 v) { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); });
      return true;
    case UnaryOp::Abs:
      for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), g = _mm256_loadu_ps(gy + i);
        const __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
        const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        const __m256 r = _mm256_or_ps(_mm256_and_ps(pos, g),
                                      _mm256_and_ps(neg, _mm256_xor_ps(g, _mm256_set1_ps(-0.0f))));
        _mm256_storeu_ps(gx + i, r);
      }
      for (; i < n; i++) {
        const float v = x[i];
        gx[i] = v > 0.0f ? gy[i] : v < 0.0f ? -gy[i] : 0.0f;
      }
      return true;
    case UnaryOp::Sqrt:  // gy / (2y) in double
      for (; i + 4 <= n; i += 4)
        st4(gx + i, _mm256_div_pd(ld4(gy + i), _mm256_mul_pd(_mm256_set1_pd(2.0), ld4(y + i))));
      for (; i < n; i++) gx[i] = static_cast<float>(double(gy[i]) / (2.0 * double(y[i])));
      return true;
    case UnaryOp::Exp:
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(gy + i), _mm256_loadu_ps(y + i)));
      for (; i < n; i++) gx[i] = gy[i] * y[i];
      return true;
    case UnaryOp::Log:
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gx + i, _mm256_div_ps(_mm256_loadu_ps(gy + i), _mm256_loadu_ps(x + i)));
      for (; i < n; i++) gx[i] = gy[i] / x[i];
      return true;
    case UnaryOp::Pow:
      if (p0 != 2.0) return false;
      for (; i + 4 <= n; i += 4)
        st4(gx + i, _mm256_mul_pd(_mm256_mul_pd(ld4(gy + i), _mm256_set1_pd(2.0)), ld4(x + i)));
      for (; i < n; i++) gx[i] = static_cast<float>(double(gy[i]) * 2.0 * double(x[i]));
      return true;
    case UnaryOp::Clamp: {
      const __m256 lo_t = _mm256_set1_ps(float_at_or_above(p0)), hi_t = _mm256_set1_ps(float_at_or_below(p1));
      for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 in = _mm256_and_ps(_mm256_cmp_ps(v, lo_t, _CMP_GE_OQ), _mm256_cmp_ps(v, hi_t, _CMP_LE_OQ));
        _mm256_storeu_ps(gx + i, _mm256_and_ps(in, _mm256_loadu_ps(gy + i)));
      }
      const float lo = float_at_or_above(p0), hi = float_at_or_below(p1);
      for (; i < n; i++) gx[i] = x[i] >= lo && x[i] <= hi ? gy[i] : 0.0f;
      return true;
    }
    case UnaryOp::Relu:
      // Not (x <= 0), unordered: the gradient passes at NaN, as PyTorch's threshold_backward.
      for (; i + 8 <= n; i += 8) {
        const __m256 pass = _mm256_cmp_ps(_mm256_loadu_ps(x + i), _mm256_setzero_ps(), _CMP_NLE_UQ);
        _mm256_storeu_ps(gx + i, _mm256_and_ps(pass, _mm256_loadu_ps(gy + i)));
      }
      for (; i < n; i++) gx[i] = x[i] <= 0.0f ? 0.0f : gy[i];
      return true;
    case UnaryOp::LeakyRelu: {
      const __m256d s = _mm256_set1_pd(p0);
      for (; i + 4 <= n; i += 4) {
        const __m128 pos = _mm_cmpgt_ps(_mm_loadu_ps(x + i), _mm_setzero_ps());
        const __m128 g = _mm_loadu_ps(gy + i);
        const __m128 scaled = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(g), s));
        _mm_storeu_ps(gx + i, _mm_blendv_ps(scaled, g, pos));
      }
      for (; i < n; i++) gx[i] = x[i] > 0.0f ? gy[i] : static_cast<float>(double(gy[i]) * p0);
      return true;
    }
    case UnaryOp::Sigmoid:  // gy·s·(1 - s) in double, left to right as unary.ts
      for (; i + 4 <= n; i += 4) {
        const __m256d s = ld4(y + i);
        st4(gx + i, _mm256_mul_pd(_mm256_mul_pd(ld4(gy + i), s), _mm256_sub_pd(_mm256_set1_pd(1.0), s)));
      }
      for (; i < n; i++) {
        const double s = y[i];
        gx[i] = static_cast<float>(double(gy[i]) * s * (1.0 - s));
      }
      return true;
    case UnaryOp::Tanh:  // gy·(1 - t²) in double
      for (; i + 4 <= n; i += 4) {
        const __m256d t = ld4(y + i);
        // t·t rounded on its own (no FMA), as in the scalar path
        st4(gx + i, _mm256_mul_pd(ld4(gy + i), _mm256_sub_pd(_mm256_set1_pd(1.0), opaque(_mm256_mul_pd(t, t)))));
      }
      for (; i < n; i++) {
        const double t = y[i];
        gx[i] = static_cast<float>(double(gy[i]) * (1.0 - opaque(t * t)));
      }
      return true;
    case UnaryOp::GeluTanh:
    case UnaryOp::GeluErf:
    case UnaryOp::Erf: {
      auto d = [op](__m256 v) {
        if (op == UnaryOp::GeluTanh) return gelu_tanh_grad8(v);
        if (op == UnaryOp::GeluErf) return gelu_erf_grad8(v);
        // erf'(x) = 2/√π·exp(-x²), x² split exactly
        const __m256 x2h = _mm256_mul_ps(v, v);
        const __m256 x2l = _mm256_fmsub_ps(v, v, x2h);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x2h));
        return _mm256_mul_ps(_mm256_fnmadd_ps(e, x2l, e), _mm256_set1_ps(1.12837916709551257f));
      };
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(gy + i), d(_mm256_loadu_ps(x + i))));
      if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(gx + i, m, _mm256_mul_ps(_mm256_maskload_ps(gy + i, m), d(_mm256_maskload_ps(x + i, m))));
      }
      return true;
    }
  }
  (void)p1;
  return false;
}

void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1) {
  if (!unary_grad_vector(op, x, y, gy, gx, n, p0, p1)) kElementwiseScalar.unary_grad(op, x, y, gy, gx, n, p0, p1);
}

// b[c·ldb + r] = a[r·lda + c] for r < rows, c < cols: 8x8 register transposes inside 32x32 tiles.
void transpose(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols) {
  transpose_tiles<8>(a, lda, b, ldb, rows, cols, [lda, ldb](const float* s, float* d) {
    transpose8x8(s, lda, [d, ldb](int q, __m256 v) { _mm256_storeu_ps(d + q * ldb, v); });
  });
}

}  // namespace
}  // namespace avx2

constexpr ElementwiseKernels kElementwiseAvx2{avx2::binary_row, avx2::unary, avx2::unary_grad, avx2::transpose};

}  // namespace tg
