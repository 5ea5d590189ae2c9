// vmath_avx2.h's functions on 16 lanes (AVX-512F/DQ): the same algorithms, constants and operation
// order, so every lane gives the bits the AVX2 version gives (asserted by native/tests/test_vmath.cc
// and test_isa_agreement.cc). Accuracy and special values: vmath_avx2.h's table.
//
// INCLUDE ONLY FROM *_avx512.cc FILES, for the reasons given at the top of vmath_avx2.h. The
// translation is one for one: a blendv becomes a masked blend, a compare mask ANDed into a value a
// zero-masking move (both give +0 in the unselected lanes), permutevar8x32 a permutexvar over the
// same 8-entry table. The build has -ffp-contract=off, so nothing is fused behind either's back.
#pragma once

#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "vmath_avx512.h must only be included from *_avx512.cc files (compiled with -mavx512f -mavx512dq)"
#endif

#include <immintrin.h>

#include "kernels/erfc_table.h"
#include "kernels/vmath_poly.h"

namespace tg {
namespace vmz {

static inline __m512 set1(float v) { return _mm512_set1_ps(v); }
static inline __m512 zero() { return _mm512_setzero_ps(); }
static inline __m512 vabs(__m512 x) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x); }
static inline __m512 vsign(__m512 x) { return _mm512_and_ps(_mm512_set1_ps(-0.0f), x); }
static inline __m512 vfma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
// c ? b : a, lane by lane (blendv's argument order)
static inline __m512 blend(__m512 a, __m512 b, __mmask16 c) { return _mm512_mask_blend_ps(c, a, b); }
static inline __mmask16 lt(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline __mmask16 ge(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }

template <int N>
static inline __m512 horner(const float (&c)[N], __m512 x) {
  __m512 p = set1(c[0]);
  for (int k = 1; k < N; k++) p = vfma(p, x, set1(c[k]));
  return p;
}

// vmath_avx2.h's opaque(): the products it keeps unfused stay unfused here too.
static inline __m512 opaque(__m512 v) {
  __asm__("" : "+v"(v));
  return v;
}

static inline __m512 clamp_keep_nan(__m512 x, float lo, float hi) {
  return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x));
}

// ---- exp ------------------------------------------------------------------------------------
static inline __m512 exp_reduce(__m512 x, __m512 xlo, __m512i* n) {
  x = clamp_keep_nan(x, -127.0f, 89.0f);
  const __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(x, set1(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fn, set1(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(fn, set1(1.428606765330187045e-06f), r);
  r = _mm512_add_ps(r, xlo);
  __m512 p = horner(vmpoly::kExp, r);
  p = _mm512_add_ps(set1(1.0f), vfma(p, _mm512_mul_ps(r, r), r));
  *n = _mm512_cvtps_epi32(fn);  // NaN lanes give INT_MIN, as vcvtps2dq on ymm
  return p;
}

static inline __m512 exp_scale(__m512 p, __m512i n) {
  const __m512i n1 = _mm512_srai_epi32(n, 1);
  const __m512i n2 = _mm512_sub_epi32(n, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

static inline __m512 exp16(__m512 x) {
  __m512i n;
  const __m512 p = exp_reduce(x, zero(), &n);
  return exp_scale(p, n);
}

static inline __m512 exp16_lo_times_pow2(__m512 x, __m512 xlo, int k) {
  __m512i n;
  const __m512 p = exp_reduce(x, xlo, &n);
  return exp_scale(p, _mm512_add_epi32(n, _mm512_set1_epi32(k)));
}

static inline __m512 exp_diff(__m512 x, __m512 negm) {
  const __m512 d = _mm512_add_ps(x, negm);
  const __m512 bb = _mm512_sub_ps(d, x);
  __m512 err = _mm512_add_ps(_mm512_sub_ps(x, _mm512_sub_ps(d, bb)), _mm512_sub_ps(negm, bb));
  err = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(err, err, _CMP_ORD_Q), err);
  const __m512 e = exp16(d);
  return _mm512_fmadd_ps(e, err, e);
}

// ---- log ------------------------------------------------------------------------------------
static inline __m512 log16(__m512 x) {
  const __mmask16 is_sub = lt(x, set1(1.17549435e-38f));
  const __m512 xs = blend(x, _mm512_mul_ps(x, set1(8388608.0f)), is_sub);
  const __m512i bits = _mm512_castps_si512(xs);
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126));
  e = _mm512_mask_sub_epi32(e, is_sub, e, _mm512_set1_epi32(23));
  __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                                 _mm512_set1_epi32(0x3f000000)));
  const __mmask16 low = lt(m, set1(0.707106781186547524f));
  e = _mm512_mask_sub_epi32(e, low, e, _mm512_set1_epi32(1));
  const __m512 f = _mm512_sub_ps(_mm512_add_ps(m, _mm512_maskz_mov_ps(low, m)), set1(1.0f));
  const __m512 fe = _mm512_cvtepi32_ps(e);
  const __m512 z = _mm512_mul_ps(f, f);
  __m512 y = horner(vmpoly::kLog, f);
  y = _mm512_mul_ps(_mm512_mul_ps(y, f), z);
  y = vfma(fe, set1(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(set1(0.5f), z, y);
  __m512 r = _mm512_add_ps(f, y);
  r = vfma(fe, set1(0.693359375f), r);
  const __m512 inf = set1(__builtin_inff());
  r = blend(r, inf, _mm512_cmp_ps_mask(x, inf, _CMP_EQ_OQ));
  r = blend(r, _mm512_sub_ps(zero(), inf), _mm512_cmp_ps_mask(x, zero(), _CMP_EQ_OQ));
  r = blend(r, set1(__builtin_nanf("")), _mm512_cmp_ps_mask(x, zero(), _CMP_NGE_UQ));
  return r;
}

// ---- tanh, sigmoid --------------------------------------------------------------------------
static inline __m512 tanh16(__m512 x) {
  const __m512 ax = vabs(x);
  const __m512 z = _mm512_mul_ps(x, x);
  const __m512 p = horner(vmpoly::kTanh, z);
  const __m512 small = vfma(_mm512_mul_ps(p, z), x, x);
  const __m512 e = exp16(_mm512_mul_ps(ax, set1(-2.0f)));
  __m512 large = _mm512_div_ps(_mm512_sub_ps(set1(1.0f), e), _mm512_add_ps(set1(1.0f), e));
  large = _mm512_or_ps(large, vsign(x));
  return blend(large, small, lt(ax, set1(0.625f)));
}

static inline __m512 sigmoid16(__m512 x) {
  const __m512 e = exp16(_mm512_sub_ps(zero(), vabs(x)));
  const __m512 d = _mm512_add_ps(set1(1.0f), e);
  const __m512 num = blend(e, set1(1.0f), ge(x, zero()));
  return _mm512_div_ps(num, d);
}

// ---- g(z) = erfc(z)·exp(z²), erf --------------------------------------------------------------
static inline __m512 table8(const float* t, __m512i k) {
  return _mm512_permutexvar_ps(k, _mm512_castps256_ps512(_mm256_load_ps(t)));
}

static inline __m512 erfcx16(__m512 z) {
  z = _mm512_min_ps(set1(10.5f), z);
  __m512i k = _mm512_setzero_si512();
  for (int i = 0; i < 7; i++)  // interval index = number of edges ≤ z
    k = _mm512_mask_add_epi32(k, ge(z, set1(vm::kErfcEdges[i])), k, _mm512_set1_epi32(1));
  const __m512 s = _mm512_sub_ps(z, table8(vm::kErfcCentre, k));
  __m512 p = table8(vm::kErfcCoef[0], k);
  for (int j = 1; j < 8; j++) p = vfma(p, s, table8(vm::kErfcCoef[j], k));
  p = vfma(p, s, table8(vm::kErfcLo, k));
  return _mm512_add_ps(table8(vm::kErfcCoef[8], k), p);
}

static inline __m512 erf16(__m512 x) {
  const __m512 ax = vabs(x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 p = horner(vmpoly::kErf, x2);
  const __m512 small = vfma(x, set1(1.128379107e+00f), _mm512_mul_ps(x, p));
  const __m512 z = _mm512_min_ps(set1(4.0f), ax);
  const __m512 zh = _mm512_mul_ps(z, z);
  const __m512 zl = _mm512_fmsub_ps(z, z, zh);
  const __m512 e = exp16_lo_times_pow2(_mm512_sub_ps(zero(), zh), _mm512_sub_ps(zero(), zl), 0);
  __m512 large = _mm512_fnmadd_ps(e, erfcx16(z), set1(1.0f));
  large = _mm512_or_ps(large, vsign(x));
  return blend(large, small, lt(ax, set1(0.875f)));
}

// erf'(x) = 2/√π·exp(-x²), x² split exactly (elementwise_avx2.cc's expression)
static inline __m512 erf_grad16(__m512 v) {
  const __m512 x2h = _mm512_mul_ps(v, v);
  const __m512 x2l = _mm512_fmsub_ps(v, v, x2h);
  const __m512 e = exp16(_mm512_sub_ps(zero(), x2h));
  return _mm512_mul_ps(_mm512_fnmadd_ps(e, x2l, e), set1(1.12837916709551257f));
}

// ---- GELU (erf form) --------------------------------------------------------------------------
static inline void gelu_erf_parts(__m512 xc, __m512* e_big, __m512* g) {
  const __m512 x2h = _mm512_mul_ps(xc, xc);
  const __m512 x2l = _mm512_fmsub_ps(xc, xc, x2h);
  const __m512 half = set1(0.5f);
  *e_big = exp16_lo_times_pow2(_mm512_mul_ps(x2h, _mm512_sub_ps(zero(), half)),
                               _mm512_mul_ps(x2l, _mm512_sub_ps(zero(), half)), 24);
  const __m512 ax = vabs(xc);
  const __m512 zh = opaque(_mm512_mul_ps(ax, set1(7.071067691e-01f)));
  const __m512 zl = vfma(ax, set1(1.210161749e-08f), _mm512_fmsub_ps(ax, set1(7.071067691e-01f), zh));
  const __m512 g0 = erfcx16(zh);
  const __m512 dg = _mm512_fmsub_ps(_mm512_add_ps(zh, zh), g0, set1(1.12837916709551257f));
  *g = vfma(zl, dg, g0);
}

static inline __m512 gelu_erf16(__m512 x) {
  const __m512 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m512 e_big, g;
  gelu_erf_parts(xc, &e_big, &g);
  const __m512 hh = opaque(_mm512_mul_ps(_mm512_mul_ps(e_big, g), set1(0.5f)));
  const __m512 hl = _mm512_mul_ps(_mm512_fmsub_ps(e_big, g, _mm512_add_ps(hh, hh)), set1(0.5f));
  const __mmask16 pos = ge(x, zero());
  const __m512 rpos = _mm512_mul_ps(x, _mm512_fnmadd_ps(hh, set1(5.9604644775390625e-8f), set1(1.0f)));
  const __m512 rneg = _mm512_mul_ps(vfma(xc, hh, _mm512_mul_ps(xc, hl)), set1(5.9604644775390625e-8f));
  return blend(rneg, rpos, pos);
}

static inline __m512 gelu_erf_grad16(__m512 x) {
  const __m512 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m512 e_big, g;
  gelu_erf_parts(xc, &e_big, &g);
  const __mmask16 pos = ge(x, zero());
  const __m512 xphi = _mm512_mul_ps(xc, set1(0.398942280401432678f));
  const __m512 hg = _mm512_mul_ps(g, set1(0.5f));
  const __m512 t = _mm512_mul_ps(e_big, blend(_mm512_add_ps(hg, xphi), _mm512_sub_ps(xphi, hg), pos));
  const __m512 tiny = set1(5.9604644775390625e-8f);
  return blend(_mm512_mul_ps(t, tiny), vfma(t, tiny, set1(1.0f)), pos);
}

// ---- GELU (tanh form) -------------------------------------------------------------------------
static inline void gelu_tanh_arg(__m512 xc, __m512* rh, __m512* rl) {
  const __m512 k1h = set1(1.595769167e+00f), k1l = set1(-4.534068054e-08f);
  const __m512 k3h = set1(7.135481387e-02f), k3l = set1(2.398832466e-09f);
  const __m512 x2h = _mm512_mul_ps(xc, xc);
  const __m512 x2l = _mm512_fmsub_ps(xc, xc, x2h);
  const __m512 ph = opaque(_mm512_mul_ps(k3h, x2h));
  __m512 pl = _mm512_fmsub_ps(k3h, x2h, ph);
  pl = vfma(k3h, x2l, pl);
  pl = vfma(k3l, x2h, pl);
  const __m512 qh = _mm512_add_ps(k1h, ph);
  const __m512 bv = _mm512_sub_ps(qh, k1h);
  const __m512 sl = _mm512_add_ps(_mm512_sub_ps(k1h, _mm512_sub_ps(qh, bv)), _mm512_sub_ps(ph, bv));
  const __m512 ql = _mm512_add_ps(_mm512_add_ps(sl, pl), k1l);
  const __m512 h = opaque(_mm512_mul_ps(xc, qh));
  *rh = h;
  *rl = vfma(xc, ql, _mm512_fmsub_ps(xc, qh, h));
}

// -|2u| as a + al, and whether 2u < 0
static inline __mmask16 gelu_tanh_neg_abs(__m512 rh, __m512 rl, __m512* a, __m512* al) {
  const __mmask16 neg = lt(rh, zero());
  *a = _mm512_sub_ps(zero(), vabs(rh));
  *al = blend(_mm512_sub_ps(zero(), rl), rl, neg);
  return neg;
}

static inline __m512 gelu_tanh16(__m512 x) {
  const __m512 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m512 rh, rl, a, al;
  gelu_tanh_arg(xc, &rh, &rl);
  const __mmask16 neg = gelu_tanh_neg_abs(rh, rl, &a, &al);
  const __m512 e_big = exp16_lo_times_pow2(a, al, 24);
  const __m512 d = vfma(e_big, set1(5.9604644775390625e-8f), set1(1.0f));
  const __m512 num = blend(x, _mm512_mul_ps(xc, e_big), neg);
  const __m512 q = _mm512_div_ps(num, d);
  return _mm512_mul_ps(q, blend(set1(1.0f), set1(5.9604644775390625e-8f), neg));
}

static inline __m512 gelu_tanh_grad16(__m512 x) {
  const __m512 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m512 rh, rl, a, al;
  gelu_tanh_arg(xc, &rh, &rl);
  const __mmask16 neg = gelu_tanh_neg_abs(rh, rl, &a, &al);
  const __m512 tiny = set1(5.9604644775390625e-8f);
  const __m512 e_big = exp16_lo_times_pow2(a, al, 24);
  const __m512 inv = _mm512_div_ps(set1(1.0f), vfma(e_big, tiny, set1(1.0f)));
  const __m512 ei_big = _mm512_mul_ps(e_big, inv);
  const __m512 s = blend(inv, ei_big, neg);
  const __m512 sc = blend(_mm512_mul_ps(ei_big, tiny), inv, neg);
  const __m512 dr = vfma(_mm512_mul_ps(xc, xc), set1(2.140644491e-01f), set1(1.595769167e+00f));
  const __m512 d = vfma(_mm512_mul_ps(s, sc), _mm512_mul_ps(xc, dr), s);
  return _mm512_mul_ps(d, blend(set1(1.0f), tiny, neg));
}

}  // namespace vmz
}  // namespace tg
