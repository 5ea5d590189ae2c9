// aarch64 NEON elementwise primitives: the NEON table's (kernels/dispatch.h). A port of
// elementwise_avx2.cc, 4 lanes at a time: binary rows and the exact ops give the scalar path's
// bits, the approximations are vmath_neon.h's (the AVX2 bits, lane for lane).
#include <arm_neon.h>

#include <cmath>
#include <cstdint>

#include "kernels/clamp_bounds.h"
#include "kernels/dispatch.h"
#include "kernels/transpose_tiles.h"
#include "kernels/vmath_neon.h"

namespace tg {
namespace neon {
namespace {

using namespace vmn;

// ---- binary rows ---------------------------------------------------------------------------------

// f is a generic lambda, applied to float32x4_t (GCC's vector operators: one IEEE operation per
// lane) and to float for the tail alike.
template <typename F>
void row_t(const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len, F f) {
  int64_t i = 0;
  if (as == 1 && bs == 1) {
    for (; i + 8 <= len; i += 8) {
      const float32x4_t r0 = f(vld1q_f32(a + i), vld1q_f32(b + i));
      const float32x4_t r1 = f(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
      vst1q_f32(out + i, r0);
      vst1q_f32(out + i + 4, r1);
    }
    for (; i + 4 <= len; i += 4) vst1q_f32(out + i, f(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < len; i++) out[i] = f(a[i], b[i]);
  } else if (as == 1 && bs == 0) {
    const float y = b[0];
    const float32x4_t vy = vdupq_n_f32(y);
    for (; i + 4 <= len; i += 4) vst1q_f32(out + i, f(vld1q_f32(a + i), vy));
    for (; i < len; i++) out[i] = f(a[i], y);
  } else if (as == 0 && bs == 1) {
    const float x = a[0];
    const float32x4_t vx = vdupq_n_f32(x);
    for (; i + 4 <= len; i += 4) vst1q_f32(out + i, f(vx, vld1q_f32(b + i)));
    for (; i < len; i++) out[i] = f(x, b[i]);
  } else {  // both broadcast along the row (or strides other than 0/1, which the driver never makes)
    for (; i < len; i++) out[i] = f(a[i * as], b[i * bs]);
  }
}

void binary_row(BinaryOp op, const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len) {
  switch (op) {
    case BinaryOp::Add: return row_t(a, as, b, bs, out, len, [](auto x, auto y) { return x + y; });
    case BinaryOp::Sub: return row_t(a, as, b, bs, out, len, [](auto x, auto y) { return x - y; });
    case BinaryOp::Mul: return row_t(a, as, b, bs, out, len, [](auto x, auto y) { return x * y; });
    case BinaryOp::Div: return row_t(a, as, b, bs, out, len, [](auto x, auto y) { return x / y; });
  }
}

// ---- unary maps ----------------------------------------------------------------------------------

// out = F(x) 4 lanes at a time; the tail goes through a zero-padded copy (no reads past n), so
// its lanes see exactly the code full vectors see.
template <typename F>
inline void map4(const float* x, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, f(vld1q_f32(x + i)));
  if (i < n) {
    float buf[4] = {0, 0, 0, 0};
    for (int64_t k = 0; k < n - i; k++) buf[k] = x[i + k];
    vst1q_f32(buf, f(vld1q_f32(buf)));
    for (int64_t k = 0; k < n - i; k++) out[i + k] = buf[k];
  }
}

// As map4 for two inputs: out = F(a, b).
template <typename F>
inline void map4x2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, f(vld1q_f32(a + i), vld1q_f32(b + i)));
  if (i < n) {
    float ba[4] = {0, 0, 0, 0}, bb[4] = {0, 0, 0, 0};
    for (int64_t k = 0; k < n - i; k++) {
      ba[k] = a[i + k];
      bb[k] = b[i + k];
    }
    vst1q_f32(ba, f(vld1q_f32(ba), vld1q_f32(bb)));
    for (int64_t k = 0; k < n - i; k++) out[i + k] = ba[k];
  }
}

// Ops evaluated in double go 2 lanes at a time (bit-identical to the scalar path, which performs
// the same double operations); the tail is done by the scalar expression.
inline float64x2_t ld2(const float* p) { return vcvt_f64_f32(vld1_f32(p)); }
inline void st2(float* p, float64x2_t v) { vst1_f32(p, vcvt_f32_f64(v)); }

void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1) {
  switch (op) {
    case UnaryOp::Neg: return map4(x, out, n, [](float32x4_t v) { return vnegq_f32(v); });
    case UnaryOp::Abs: return map4(x, out, n, [](float32x4_t v) { return vabsq_f32(v); });
    case UnaryOp::Sqrt: return map4(x, out, n, [](float32x4_t v) { return vsqrtq_f32(v); });
    case UnaryOp::Exp: return map4(x, out, n, [](float32x4_t v) { return exp4(v); });
    case UnaryOp::Log: return map4(x, out, n, [](float32x4_t v) { return log4(v); });
    case UnaryOp::Pow:
      if (p0 == 2.0) return map4(x, out, n, [](float32x4_t v) { return vmulq_f32(v, v); });
      for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(std::pow(static_cast<double>(x[i]), p0));
      return;
    case UnaryOp::Clamp: {
      const float32x4_t lo_t = vdupq_n_f32(float_at_or_above(p0)), hi_t = vdupq_n_f32(float_at_or_below(p1));
      const float32x4_t lo = vdupq_n_f32(static_cast<float>(p0)), hi = vdupq_n_f32(static_cast<float>(p1));
      // v < lo_t ? lo : v > hi_t ? hi : v   (NaN stays NaN: both compares are false)
      return map4(x, out, n, [=](float32x4_t v) {
        const float32x4_t r = vbslq_f32(vcgtq_f32(v, hi_t), hi, v);
        return vbslq_f32(vcltq_f32(v, lo_t), lo, r);
      });
    }
    case UnaryOp::Relu:
      // v < 0 ? 0 : v, so relu(NaN) = NaN and relu(-0) = -0 as in unary.ts (vmaxq would give +0).
      return map4(x, out, n, [](float32x4_t v) { return vbslq_f32(vcltzq_f32(v), vdupq_n_f32(0.0f), v); });
    case UnaryOp::LeakyRelu: {
      // v > 0 ? v : (float)(v·slope), the product in double as in unary.ts.
      const float64x2_t s = vdupq_n_f64(p0);
      int64_t i = 0;
      for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        const float32x2_t lo = vcvt_f32_f64(vmulq_f64(vcvt_f64_f32(vget_low_f32(v)), s));
        const float32x4_t neg = vcvt_high_f32_f64(lo, vmulq_f64(vcvt_high_f64_f32(v), s));
        vst1q_f32(out + i, vbslq_f32(vcgtzq_f32(v), v, neg));
      }
      for (; i < n; i++) {
        const float v = x[i];
        out[i] = v > 0.0f ? v : static_cast<float>(static_cast<double>(v) * p0);
      }
      return;
    }
    case UnaryOp::Sigmoid: return map4(x, out, n, [](float32x4_t v) { return sigmoid4(v); });
    case UnaryOp::Tanh: return map4(x, out, n, [](float32x4_t v) { return tanh4(v); });
    case UnaryOp::GeluTanh: return map4(x, out, n, [](float32x4_t v) { return gelu_tanh4(v); });
    case UnaryOp::GeluErf: return map4(x, out, n, [](float32x4_t v) { return gelu_erf4(v); });
    case UnaryOp::Erf: return map4(x, out, n, [](float32x4_t v) { return erf4(v); });
  }
  (void)p1;
}

// Returns false for the ops left to the scalar path (general pow: a libm call per element either way).
bool unary_grad_vector(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                       double p1) {
  int64_t i = 0;
  switch (op) {
    case UnaryOp::Neg: map4(gy, gx, n, [](float32x4_t v) { return vnegq_f32(v); }); return true;
    case UnaryOp::Abs:
      // v > 0 ? g : v < 0 ? -g : 0 (NaN: 0)
      map4x2(x, gy, gx, n, [](float32x4_t v, float32x4_t g) {
        return vor(vand(vcgtzq_f32(v), g), vand(vcltzq_f32(v), vnegq_f32(g)));
      });
      return true;
    case UnaryOp::Sqrt:  // gy / (2y) in double
      for (; i + 2 <= n; i += 2) st2(gx + i, vdivq_f64(ld2(gy + i), vmulq_f64(vdupq_n_f64(2.0), ld2(y + i))));
      for (; i < n; i++) gx[i] = static_cast<float>(double(gy[i]) / (2.0 * double(y[i])));
      return true;
    case UnaryOp::Exp: map4x2(gy, y, gx, n, [](float32x4_t g, float32x4_t v) { return vmulq_f32(g, v); }); return true;
    case UnaryOp::Log: map4x2(gy, x, gx, n, [](float32x4_t g, float32x4_t v) { return vdivq_f32(g, v); }); return true;
    case UnaryOp::Pow:
      if (p0 != 2.0) return false;
      for (; i + 2 <= n; i += 2) st2(gx + i, vmulq_f64(vmulq_f64(ld2(gy + i), vdupq_n_f64(2.0)), ld2(x + i)));
      for (; i < n; i++) gx[i] = static_cast<float>(double(gy[i]) * 2.0 * double(x[i]));
      return true;
    case UnaryOp::Clamp: {
      const float32x4_t lo_t = vdupq_n_f32(float_at_or_above(p0)), hi_t = vdupq_n_f32(float_at_or_below(p1));
      map4x2(x, gy, gx, n, [=](float32x4_t v, float32x4_t g) {
        return vand(vandq_u32(vcgeq_f32(v, lo_t), vcleq_f32(v, hi_t)), g);
      });
      return true;
    }
    case UnaryOp::Relu:
      // Not (x <= 0): the gradient passes at NaN, as PyTorch's threshold_backward.
      map4x2(x, gy, gx, n, [](float32x4_t v, float32x4_t g) { return vand(vmvnq_u32(vclezq_f32(v)), g); });
      return true;
    case UnaryOp::LeakyRelu: {
      const float64x2_t s = vdupq_n_f64(p0);
      for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vld1q_f32(gy + i);
        const float32x2_t lo = vcvt_f32_f64(vmulq_f64(vcvt_f64_f32(vget_low_f32(g)), s));
        const float32x4_t scaled = vcvt_high_f32_f64(lo, vmulq_f64(vcvt_high_f64_f32(g), s));
        vst1q_f32(gx + i, vbslq_f32(vcgtzq_f32(vld1q_f32(x + i)), g, scaled));
      }
      for (; i < n; i++) gx[i] = x[i] > 0.0f ? gy[i] : static_cast<float>(double(gy[i]) * p0);
      return true;
    }
    case UnaryOp::Sigmoid:  // gy·s·(1 - s) in double, left to right as unary.ts
      for (; i + 2 <= n; i += 2) {
        const float64x2_t s = ld2(y + i);
        st2(gx + i, vmulq_f64(opaque(vmulq_f64(ld2(gy + i), s)), vsubq_f64(vdupq_n_f64(1.0), s)));
      }
      for (; i < n; i++) {
        const double s = y[i];
        gx[i] = static_cast<float>(double(gy[i]) * s * (1.0 - s));
      }
      return true;
    case UnaryOp::Tanh:  // gy·(1 - t²) in double, t·t rounded on its own as in the scalar path
      for (; i + 2 <= n; i += 2) {
        const float64x2_t t = ld2(y + i);
        st2(gx + i, vmulq_f64(ld2(gy + i), vsubq_f64(vdupq_n_f64(1.0), opaque(vmulq_f64(t, t)))));
      }
      for (; i < n; i++) {
        const double t = y[i];
        double t2 = t * t;
        __asm__("" : "+w"(t2));
        gx[i] = static_cast<float>(double(gy[i]) * (1.0 - t2));
      }
      return true;
    case UnaryOp::GeluTanh:
      map4x2(x, gy, gx, n, [](float32x4_t v, float32x4_t g) { return vmulq_f32(g, gelu_tanh_grad4(v)); });
      return true;
    case UnaryOp::GeluErf:
      map4x2(x, gy, gx, n, [](float32x4_t v, float32x4_t g) { return vmulq_f32(g, gelu_erf_grad4(v)); });
      return true;
    case UnaryOp::Erf:
      map4x2(x, gy, gx, n, [](float32x4_t v, float32x4_t g) { return vmulq_f32(g, erf_grad4(v)); });
      return true;
  }
  (void)p1;
  return false;
}

void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1) {
  if (!unary_grad_vector(op, x, y, gy, gx, n, p0, p1)) kElementwiseScalar.unary_grad(op, x, y, gy, gx, n, p0, p1);
}

// ---- transpose -----------------------------------------------------------------------------------

// b[c·ldb + r] = a[r·lda + c] for the 4x4 block at a: two rounds of 2x2 transposes (32-bit lanes,
// then 64-bit pairs).
inline void transpose4x4(const float* a, int64_t lda, float* b, int64_t ldb) {
  const float32x4_t r0 = vld1q_f32(a), r1 = vld1q_f32(a + lda), r2 = vld1q_f32(a + 2 * lda),
                    r3 = vld1q_f32(a + 3 * lda);
  const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));  // a0 b0 a2 b2
  const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));  // a1 b1 a3 b3
  const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));  // c0 d0 c2 d2
  const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));  // c1 d1 c3 d3
  vst1q_f32(b, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
  vst1q_f32(b + ldb, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
  vst1q_f32(b + 2 * ldb, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
  vst1q_f32(b + 3 * ldb, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
}

void transpose(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols) {
  transpose_tiles<4>(a, lda, b, ldb, rows, cols,
                     [lda, ldb](const float* s, float* d) { transpose4x4(s, lda, d, ldb); });
}

}  // namespace
}  // namespace neon

constexpr ElementwiseKernels kElementwiseNeon{neon::binary_row, neon::unary, neon::unary_grad, neon::transpose};

}  // namespace tg
