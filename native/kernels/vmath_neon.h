// Vectorised float32 math for aarch64 NEON, 4 lanes at a time: exp, log, tanh, sigmoid, erf and
// the two GELUs, plus the pieces their derivatives need.
//
// A lane-for-lane port of vmath_avx2.h: the same reductions, polynomials, constants and operation
// order, with vfmaq_f32 wherever AVX2 fuses, so every lane gives the bits the AVX2 lane gives for
// the same input. The accuracy bounds and special values documented at the top of vmath_avx2.h
// therefore hold here unchanged (native/tests/test_vmath.cc asserts them on the NEON path too).
//
// The places where NEON's semantics differ from SSE/AVX and the port compensates:
//   - vmaxq/vminq return NaN when either operand is NaN (x86 returns the second operand); the
//     clamps here only ever need NaN kept, which both give.
//   - float→int conversion of NaN gives 0 (x86: INT_MIN); p is NaN on those lanes either way.
//   - permutevar8x32 (the 8-entry coefficient lookup of erfcx) becomes a two-register byte
//     table lookup, vqtbl2q_u8.
//
// Include only from *_neon.cc files. Everything is `static inline`, as in vmath_avx2.h, so each
// translation unit keeps its own copy.
#pragma once

#if !defined(__aarch64__)
#error "vmath_neon.h must only be included from *_neon.cc files (aarch64)"
#endif

#include <arm_neon.h>

#include <cstdint>

#include "kernels/erfc_table.h"
#include "kernels/vmath_poly.h"

namespace tg {
namespace vmn {

static inline float32x4_t set1(float v) { return vdupq_n_f32(v); }
static inline float32x4_t vabs(float32x4_t x) { return vabsq_f32(x); }
static inline float32x4_t vsign(float32x4_t x) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u)));
}
static inline float32x4_t vor(float32x4_t a, float32x4_t b) {
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}
static inline float32x4_t vand(uint32x4_t m, float32x4_t a) {
  return vreinterpretq_f32_u32(vandq_u32(m, vreinterpretq_u32_f32(a)));
}
// a·b + c, a·b - c and c - a·b, each rounded once (AVX2's fmadd, fmsub, fnmadd).
static inline float32x4_t vfma(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(c, a, b); }
static inline float32x4_t vfms(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(vnegq_f32(c), a, b); }
static inline float32x4_t vfnma(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmsq_f32(c, a, b); }
// mask ? b : a (AVX2's blendv(a, b, mask)).
static inline float32x4_t blend(float32x4_t a, float32x4_t b, uint32x4_t mask) { return vbslq_f32(mask, b, a); }

// Keeps the optimiser from fusing a product into a neighbouring add, where a product must be
// rounded on its own (error-free transforms; kernels that must match the scalar path bit for bit).
static inline float32x4_t opaque(float32x4_t v) {
  __asm__("" : "+w"(v));
  return v;
}
static inline float64x2_t opaque(float64x2_t v) {
  __asm__("" : "+w"(v));
  return v;
}

// c[0]·x^(N-1) + ... + c[N-1] by Horner's rule, one FMA per step (vmath_poly.h).
template <int N>
static inline float32x4_t horner(const float (&c)[N], float32x4_t x) {
  float32x4_t p = set1(c[0]);
  for (int k = 1; k < N; k++) p = vfma(p, x, set1(c[k]));
  return p;
}

static inline float32x4_t clamp_keep_nan(float32x4_t x, float lo, float hi) {
  return vminq_f32(vdupq_n_f32(hi), vmaxq_f32(vdupq_n_f32(lo), x));
}

// ---- exp (vmath_avx2.h's exp_reduce / exp_scale) ----------------------------------------------
static inline float32x4_t exp_reduce(float32x4_t x, float32x4_t xlo, int32x4_t* n) {
  x = clamp_keep_nan(x, -127.0f, 89.0f);
  const float32x4_t fn = vrndnq_f32(vmulq_f32(x, set1(1.44269504088896341f)));
  float32x4_t r = vfnma(fn, set1(0.693145751953125f), x);
  r = vfnma(fn, set1(1.428606765330187045e-06f), r);
  r = vaddq_f32(r, xlo);
  float32x4_t p = horner(vmpoly::kExp, r);
  p = vaddq_f32(set1(1.0f), vfma(p, vmulq_f32(r, r), r));
  *n = vcvtq_s32_f32(fn);
  return p;
}

static inline float32x4_t exp_scale(float32x4_t p, int32x4_t n) {
  const int32x4_t n1 = vshrq_n_s32(n, 1);
  const int32x4_t n2 = vsubq_s32(n, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

static inline float32x4_t exp4(float32x4_t x) {
  int32x4_t n;
  const float32x4_t p = exp_reduce(x, vdupq_n_f32(0.0f), &n);
  return exp_scale(p, n);
}

static inline float32x4_t exp4_lo_times_pow2(float32x4_t x, float32x4_t xlo, int k) {
  int32x4_t n;
  const float32x4_t p = exp_reduce(x, xlo, &n);
  return exp_scale(p, vaddq_s32(n, vdupq_n_s32(k)));
}

// exp(x - m) with x - m carried exactly (two-sum); negm = -m. NaN errors become 0.
static inline float32x4_t exp_diff(float32x4_t x, float32x4_t negm) {
  const float32x4_t d = vaddq_f32(x, negm);
  const float32x4_t bb = vsubq_f32(d, x);
  float32x4_t err = vaddq_f32(vsubq_f32(x, vsubq_f32(d, bb)), vsubq_f32(negm, bb));
  err = vand(vceqq_f32(err, err), err);
  const float32x4_t e = exp4(d);
  return vfma(e, err, e);
}

// ---- log ------------------------------------------------------------------------------------
static inline float32x4_t log4(float32x4_t x) {
  const uint32x4_t is_sub = vcltq_f32(x, set1(1.17549435e-38f));
  const float32x4_t xs = blend(x, vmulq_f32(x, set1(8388608.0f)), is_sub);
  const uint32x4_t bits = vreinterpretq_u32_f32(xs);
  int32x4_t e = vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(bits, 23)), vdupq_n_s32(126));
  e = vsubq_s32(e, vreinterpretq_s32_u32(vandq_u32(is_sub, vdupq_n_u32(23))));
  float32x4_t m = vreinterpretq_f32_u32(vorrq_u32(vandq_u32(bits, vdupq_n_u32(0x007fffff)), vdupq_n_u32(0x3f000000)));
  const uint32x4_t lt = vcltq_f32(m, set1(0.707106781186547524f));
  e = vaddq_s32(e, vreinterpretq_s32_u32(lt));
  const float32x4_t f = vsubq_f32(vaddq_f32(m, vand(lt, m)), set1(1.0f));
  const float32x4_t fe = vcvtq_f32_s32(e);
  const float32x4_t z = vmulq_f32(f, f);
  float32x4_t y = horner(vmpoly::kLog, f);
  y = vmulq_f32(vmulq_f32(y, f), z);
  y = vfma(fe, set1(-2.12194440e-4f), y);
  y = vfnma(set1(0.5f), z, y);
  float32x4_t r = vaddq_f32(f, y);
  r = vfma(fe, set1(0.693359375f), r);
  const float32x4_t inf = set1(__builtin_inff());
  const float32x4_t zero = vdupq_n_f32(0.0f);
  r = blend(r, inf, vceqq_f32(x, inf));
  r = blend(r, vnegq_f32(inf), vceqq_f32(x, zero));
  r = blend(r, set1(__builtin_nanf("")), vmvnq_u32(vcgeq_f32(x, zero)));  // x < 0 or NaN
  return r;
}

// ---- tanh -----------------------------------------------------------------------------------
static inline float32x4_t tanh4(float32x4_t x) {
  const float32x4_t ax = vabs(x);
  const float32x4_t z = vmulq_f32(x, x);
  const float32x4_t p = horner(vmpoly::kTanh, z);
  const float32x4_t small = vfma(vmulq_f32(p, z), x, x);
  const float32x4_t e = exp4(vmulq_f32(ax, set1(-2.0f)));
  float32x4_t large = vdivq_f32(vsubq_f32(set1(1.0f), e), vaddq_f32(set1(1.0f), e));
  large = vor(large, vsign(x));
  return blend(large, small, vcltq_f32(ax, set1(0.625f)));
}

// ---- sigmoid --------------------------------------------------------------------------------
static inline float32x4_t sigmoid4(float32x4_t x) {
  const float32x4_t e = exp4(vnegq_f32(vabs(x)));
  const float32x4_t d = vaddq_f32(set1(1.0f), e);
  const float32x4_t num = blend(e, set1(1.0f), vcgeq_f32(x, vdupq_n_f32(0.0f)));
  return vdivq_f32(num, d);
}

// ---- g(z) = erfc(z)·exp(z²) for z ∈ [0, 10.5]: erfc_table.h's fit, looked up per lane ----------

// table[k] per lane, for the byte indices that select entry k (erfcx4's `bi`).
static inline float32x4_t lookup8(const float* table, uint8x16_t bi) {
  uint8x16x2_t t;
  t.val[0] = vreinterpretq_u8_f32(vld1q_f32(table));
  t.val[1] = vreinterpretq_u8_f32(vld1q_f32(table + 4));
  return vreinterpretq_f32_u8(vqtbl2q_u8(t, bi));
}

// z must be ≥ 0 (NaN passes through).
static inline float32x4_t erfcx4(float32x4_t z) {
  z = vminq_f32(set1(10.5f), z);
  uint32x4_t k = vdupq_n_u32(0);
  for (int i = 0; i < 7; i++) k = vsubq_u32(k, vcgeq_f32(z, set1(vm::kErfcEdges[i])));
  // byte j of lane l reads byte 4·k_l + j of the table
  const uint8x16_t bi = vreinterpretq_u8_u32(vmlaq_n_u32(vdupq_n_u32(0x03020100u), k, 0x04040404u));
  const float32x4_t s = vsubq_f32(z, lookup8(vm::kErfcCentre, bi));
  float32x4_t p = lookup8(vm::kErfcCoef[0], bi);
  for (int j = 1; j < 8; j++) p = vfma(p, s, lookup8(vm::kErfcCoef[j], bi));
  p = vfma(p, s, lookup8(vm::kErfcLo, bi));
  return vaddq_f32(lookup8(vm::kErfcCoef[8], bi), p);
}

// ---- erf ------------------------------------------------------------------------------------
static inline float32x4_t erf4(float32x4_t x) {
  const float32x4_t ax = vabs(x);
  const float32x4_t x2 = vmulq_f32(x, x);
  const float32x4_t p = horner(vmpoly::kErf, x2);
  const float32x4_t small = vfma(x, set1(1.128379107e+00f), vmulq_f32(x, p));
  const float32x4_t z = vminq_f32(set1(4.0f), ax);
  const float32x4_t zh = vmulq_f32(z, z);
  const float32x4_t zl = vfms(z, z, zh);
  const float32x4_t e = exp4_lo_times_pow2(vnegq_f32(zh), vnegq_f32(zl), 0);
  float32x4_t large = vfnma(e, erfcx4(z), set1(1.0f));
  large = vor(large, vsign(x));
  return blend(large, small, vcltq_f32(ax, set1(0.875f)));
}

// ---- GELU (erf form): vmath_avx2.h's gelu_erf_parts ----------------------------------------------
static inline void gelu_erf_parts(float32x4_t xc, float32x4_t* e_big, float32x4_t* g) {
  const float32x4_t x2h = vmulq_f32(xc, xc);
  const float32x4_t x2l = vfms(xc, xc, x2h);
  const float32x4_t nhalf = set1(-0.5f);
  *e_big = exp4_lo_times_pow2(vmulq_f32(x2h, nhalf), vmulq_f32(x2l, nhalf), 24);
  const float32x4_t ax = vabs(xc);
  const float32x4_t zh = opaque(vmulq_f32(ax, set1(7.071067691e-01f)));
  const float32x4_t zl = vfma(ax, set1(1.210161749e-08f), vfms(ax, set1(7.071067691e-01f), zh));
  const float32x4_t g0 = erfcx4(zh);
  const float32x4_t dg = vfms(vaddq_f32(zh, zh), g0, set1(1.12837916709551257f));
  *g = vfma(zl, dg, g0);
}

static inline float32x4_t gelu_erf4(float32x4_t x) {
  const float32x4_t xc = clamp_keep_nan(x, -16.0f, 16.0f);
  float32x4_t e_big, g;
  gelu_erf_parts(xc, &e_big, &g);
  const float32x4_t hh = opaque(vmulq_f32(vmulq_f32(e_big, g), set1(0.5f)));
  const float32x4_t hl = vmulq_f32(vfms(e_big, g, vaddq_f32(hh, hh)), set1(0.5f));
  const uint32x4_t pos = vcgeq_f32(x, vdupq_n_f32(0.0f));
  const float32x4_t tiny = set1(5.9604644775390625e-8f);  // 2^-24
  const float32x4_t rpos = vmulq_f32(x, vfnma(hh, tiny, set1(1.0f)));
  const float32x4_t rneg = vmulq_f32(vfma(xc, hh, vmulq_f32(xc, hl)), tiny);
  return blend(rneg, rpos, pos);
}

static inline float32x4_t gelu_erf_grad4(float32x4_t x) {
  const float32x4_t xc = clamp_keep_nan(x, -16.0f, 16.0f);
  float32x4_t e_big, g;
  gelu_erf_parts(xc, &e_big, &g);
  const uint32x4_t pos = vcgeq_f32(x, vdupq_n_f32(0.0f));
  const float32x4_t xphi = vmulq_f32(xc, set1(0.398942280401432678f));
  const float32x4_t hg = vmulq_f32(g, set1(0.5f));
  const float32x4_t t = vmulq_f32(e_big, blend(vaddq_f32(hg, xphi), vsubq_f32(xphi, hg), pos));
  const float32x4_t tiny = set1(5.9604644775390625e-8f);
  return blend(vmulq_f32(t, tiny), vfma(t, tiny, set1(1.0f)), pos);
}

// ---- GELU (tanh form): vmath_avx2.h's gelu_tanh_arg -----------------------------------------------
static inline void gelu_tanh_arg(float32x4_t xc, float32x4_t* rh, float32x4_t* rl) {
  const float32x4_t k1h = set1(1.595769167e+00f), k1l = set1(-4.534068054e-08f);
  const float32x4_t k3h = set1(7.135481387e-02f), k3l = set1(2.398832466e-09f);
  const float32x4_t x2h = vmulq_f32(xc, xc);
  const float32x4_t x2l = vfms(xc, xc, x2h);
  const float32x4_t ph = opaque(vmulq_f32(k3h, x2h));
  float32x4_t pl = vfms(k3h, x2h, ph);
  pl = vfma(k3h, x2l, pl);
  pl = vfma(k3l, x2h, pl);
  const float32x4_t qh = vaddq_f32(k1h, ph);
  const float32x4_t bv = vsubq_f32(qh, k1h);
  const float32x4_t sl = vaddq_f32(vsubq_f32(k1h, vsubq_f32(qh, bv)), vsubq_f32(ph, bv));
  const float32x4_t ql = vaddq_f32(vaddq_f32(sl, pl), k1l);
  const float32x4_t h = opaque(vmulq_f32(xc, qh));
  *rh = h;
  *rl = vfma(xc, ql, vfms(xc, qh, h));
}

// e_big = exp(-|2u|)·2^24 from the double-float 2u, and whether 2u < 0.
static inline float32x4_t gelu_tanh_exp(float32x4_t xc, uint32x4_t* neg) {
  float32x4_t rh, rl;
  gelu_tanh_arg(xc, &rh, &rl);
  *neg = vcltq_f32(rh, vdupq_n_f32(0.0f));
  const float32x4_t a = vnegq_f32(vabs(rh));
  const float32x4_t al = blend(vnegq_f32(rl), rl, *neg);
  return exp4_lo_times_pow2(a, al, 24);
}

static inline float32x4_t gelu_tanh4(float32x4_t x) {
  const float32x4_t xc = clamp_keep_nan(x, -16.0f, 16.0f);
  uint32x4_t neg;
  const float32x4_t e_big = gelu_tanh_exp(xc, &neg);
  const float32x4_t tiny = set1(5.9604644775390625e-8f);
  const float32x4_t d = vfma(e_big, tiny, set1(1.0f));
  const float32x4_t num = blend(x, vmulq_f32(xc, e_big), neg);
  const float32x4_t q = vdivq_f32(num, d);
  return vmulq_f32(q, blend(set1(1.0f), tiny, neg));
}

static inline float32x4_t gelu_tanh_grad4(float32x4_t x) {
  const float32x4_t xc = clamp_keep_nan(x, -16.0f, 16.0f);
  uint32x4_t neg;
  const float32x4_t e_big = gelu_tanh_exp(xc, &neg);
  const float32x4_t tiny = set1(5.9604644775390625e-8f);
  const float32x4_t inv = vdivq_f32(set1(1.0f), vfma(e_big, tiny, set1(1.0f)));
  const float32x4_t ei_big = vmulq_f32(e_big, inv);
  const float32x4_t s = blend(inv, ei_big, neg);
  const float32x4_t sc = blend(vmulq_f32(ei_big, tiny), inv, neg);
  const float32x4_t dr = vfma(vmulq_f32(xc, xc), set1(2.140644491e-01f), set1(1.595769167e+00f));
  const float32x4_t d = vfma(vmulq_f32(s, sc), vmulq_f32(xc, dr), s);
  return vmulq_f32(d, blend(set1(1.0f), tiny, neg));
}

// erf'(x) = 2/√π·exp(-x²), x² split exactly.
static inline float32x4_t erf_grad4(float32x4_t x) {
  const float32x4_t x2h = vmulq_f32(x, x);
  const float32x4_t x2l = vfms(x, x, x2h);
  const float32x4_t e = exp4(vnegq_f32(x2h));
  return vmulq_f32(vfnma(e, x2l, e), set1(1.12837916709551257f));
}

}  // namespace vmn
}  // namespace tg
