// Vectorised float32 math for AVX2+FMA, 8 lanes at a time: exp, log, tanh, sigmoid, erf and the
// two GELUs, plus the pieces their derivatives need.
//
// INCLUDE ONLY FROM *_avx2.cc FILES (compiled with -mavx2 -mfma). Every function here is `static
// inline`, so each translation unit gets its own copy: an AVX2-encoded body can never be picked by
// the linker for a baseline caller (the ODR-merging trap of inline functions shared between TUs
// built with different -m flags). For the same reason the *_avx2.cc files avoid std:: function
// templates (std::min, std::max, ...).
//
// ---- Accuracy (measured by native/tests/test_vmath.cc against a double reference) ------------
// Error is counted in ULPs of the correctly rounded float result: |y - ref| / ulp(ref), with
// ulp(ref) the spacing of floats at |ref| (2^-149 for subnormal results; a result that rounds to
// ±inf counts as ±2^128). NaN must give NaN and only NaN. By default the test sweeps every 997th
// float32 bit pattern (both signs, all exponents), every 61st over 2^-12 <= |x| <= 32, and edge
// values (±0, subnormals, ±FLT_MIN, ±FLT_MAX, ±inf, NaN, the overflow/underflow/saturation
// thresholds, each side of every branch and interval boundary), and asserts exactly these bounds.
// TG_VMATH_STEP=1 runs all 2^32 inputs; the "exhaustive" column is that run's maximum:
//
// (AVX-512's vmath_avx512.h gives the same bits on every input the test sweeps, so the same bounds.)
//
//   function   bound (AVX2)  exhaustive  notes
//   exp        2 ULP         1.01 ULP    inf above 88.72, 0 below -103.97; subnormal results
//                                        rounded once (two-step 2^n scaling)
//   log        2 ULP         0.83 ULP    subnormal inputs scaled exactly; log(0) = -inf,
//                                        log(x<0) = NaN, log(inf) = inf
//   tanh       2 ULP         1.51 ULP    odd polynomial below |x| = 0.625, (1-e)/(1+e) with
//                                        e = exp(-2|x|) above; saturates to ±1, never NaN
//   sigmoid    3 ULP         2.40 ULP    num/(1 + exp(-|x|)), num = 1 or exp(-|x|): relative
//                                        accuracy on both tails (no 1 - small cancellation);
//                                        saturates to 0 and 1, never NaN
//   erf        2 ULP         1.10 ULP    x·c0 + x·P(x²) below |x| = 0.875, else
//                                        1 - exp(-x²)·g(|x|), g = erfc·exp(x²) piecewise
//                                        (8 intervals, degree 8, constant term as hi + lo)
//   geluErf    4 ULP         3.37 ULP    x·Φ(x), Φ = erfc(-x/√2)/2 = exp(-x²/2)·g(|x|/√2)/2 for
//                                        x < 0 (1 minus that for x ≥ 0): x² split exactly (fma),
//                                        |x|/√2 carried as hi + lo, so the negative tail keeps
//                                        relative accuracy down to the subnormals
//   geluTanh   4 ULP         3.40 ULP    x·sigmoid(2u) with 2u = k1·x + k3·x³ carried in
//                                        double-float (the textbook 0.5x(1 + tanh u) loses all
//                                        relative accuracy to cancellation for x < -3)
//
// The scalar path evaluates in double with libm and rounds once: 0.50 ULP (correctly rounded)
// for all seven over all 2^32 inputs; the test asserts 1 ULP there. Subnormal results count in
// subnormal ULPs (2^-149) too: the GELUs' negative tails reach the subnormals near x = -10 (tanh
// form) and x = -13 (erf form), and carrying the intermediate scaled by 2^24 rounds them once.
//
// Why this is enough: every consumer is float32 (the result is stored into a Float32Array and fed
// to a GEMM or another elementwise op), so a few ULPs is below what one float32 rounding of the
// input already does to these functions (their condition number |x·f'(x)/f(x)| is ≥ 1 over most of
// the range, e.g. ≈ 8 for geluTanh at x = -3); training noise from SGD dwarfs both. The bounds are
// relative everywhere (no absolute floor), so nothing is hidden near zero: tanh, erf and the
// GELUs are accurate at tiny |x| because they are evaluated as x times an accurate factor there.
//
// Special values: NaN in → NaN out for every function; ±inf give the mathematical limits
// (exp: inf/0, log(inf)=inf, tanh: ±1, sigmoid: 1/0, erf: ±1, gelu(+inf)=inf, gelu(-inf)=-0).
#pragma once

#if !defined(__AVX2__) || !defined(__FMA__)
#error "vmath_avx2.h must only be included from *_avx2.cc files (compiled with -mavx2 -mfma)"
#endif

#include <immintrin.h>

#include "kernels/vmath_poly.h"

#include "kernels/erfc_table.h"

namespace tg {
namespace vm {

static inline __m256 set1(float v) { return _mm256_set1_ps(v); }
static inline __m256 vabs(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
static inline __m256 vsign(__m256 x) { return _mm256_and_ps(_mm256_set1_ps(-0.0f), x); }
static inline __m256 vfma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }

// GCC contracts a*b + c into an FMA even across intrinsics (-ffp-contract=fast is its default in
// C++ too). Where a product must be rounded on its own (error-free transforms; kernels that must
// match the scalar path bit for bit) it goes through opaque(), which the optimiser cannot see into.
static inline __m256 opaque(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}
static inline __m256d opaque(__m256d v) {
  __asm__("" : "+x"(v));
  return v;
}
static inline double opaque(double v) {
  __asm__("" : "+x"(v));
  return v;
}

// c[0]·x^(N-1) + ... + c[N-1] by Horner's rule, one FMA per step (vmath_poly.h).
template <int N>
static inline __m256 horner(const float (&c)[N], __m256 x) {
  __m256 p = set1(c[0]);
  for (int k = 1; k < N; k++) p = vfma(p, x, set1(c[k]));
  return p;
}

// Clamp to [lo, hi] keeping NaN: max_ps/min_ps return their SECOND operand when either is NaN.
static inline __m256 clamp_keep_nan(__m256 x, float lo, float hi) {
  return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), x));
}

// ---- exp ------------------------------------------------------------------------------------
// exp(x + xlo) = p · 2^n with p = e^r, r = x - n·ln2 + xlo ∈ [-ln2/2, ln2/2] (xlo: an optional
// small low-order part of the argument, |xlo| ≤ ulp(x), finite). x is clamped to [-127, 89] first
// (everything below underflows, everything above overflows, even with the 2^24 bias the GELUs
// use). Returns p and writes n.
static inline __m256 exp_reduce(__m256 x, __m256 xlo, __m256i* n) {
  x = clamp_keep_nan(x, -127.0f, 89.0f);
  const __m256 fn = _mm256_round_ps(_mm256_mul_ps(x, set1(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // Cody–Waite: ln2_hi has 16 trailing zero bits, so n·ln2_hi and x - n·ln2_hi are exact.
  __m256 r = _mm256_fnmadd_ps(fn, set1(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(fn, set1(1.428606765330187045e-06f), r);
  r = _mm256_add_ps(r, xlo);
  // Cephes expf minimax polynomial: e^r ≈ 1 + (r + r²·P(r)); the small part is formed first so the
  // final 1 + q rounds once.
  __m256 p = horner(vmpoly::kExp, r);
  p = _mm256_add_ps(set1(1.0f), vfma(p, _mm256_mul_ps(r, r), r));
  *n = _mm256_cvtps_epi32(fn);  // NaN lanes give INT_MIN; p is NaN there, so the result is NaN
  return p;
}

// p · 2^n in two exact power-of-two steps, so n ∈ [-200, 200] never leaves the normal exponent
// range in the factors and a subnormal result is rounded exactly once.
static inline __m256 exp_scale(__m256 p, __m256i n) {
  const __m256i n1 = _mm256_srai_epi32(n, 1);
  const __m256i n2 = _mm256_sub_epi32(n, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline __m256 exp8(__m256 x) {
  __m256i n;
  const __m256 p = exp_reduce(x, _mm256_setzero_ps(), &n);
  return exp_scale(p, n);
}

// exp(x + xlo) · 2^k for a small k ≥ 0: lets a caller keep a would-be-subnormal intermediate
// normal and round into the subnormal range once, at the very end.
static inline __m256 exp8_lo_times_pow2(__m256 x, __m256 xlo, int k) {
  __m256i n;
  const __m256 p = exp_reduce(x, xlo, &n);
  return exp_scale(p, _mm256_add_epi32(n, _mm256_set1_epi32(k)));
}

// exp(x - m) with x - m carried exactly (two-sum), so small outputs keep relative accuracy: the
// softmax and cross-entropy rows. negm = -m. Infinite or NaN differences give err = 0 (not NaN):
// exp(-inf) stays 0.
static inline __m256 exp_diff(__m256 x, __m256 negm) {
  const __m256 d = _mm256_add_ps(x, negm);
  const __m256 bb = _mm256_sub_ps(d, x);
  __m256 err = _mm256_add_ps(_mm256_sub_ps(x, _mm256_sub_ps(d, bb)), _mm256_sub_ps(negm, bb));
  err = _mm256_and_ps(err, _mm256_cmp_ps(err, err, _CMP_ORD_Q));
  const __m256 e = exp8(d);
  return _mm256_fmadd_ps(e, err, e);
}

// ---- log ------------------------------------------------------------------------------------
// x = m·2^e with m ∈ [√½, √2); log x = e·ln2 + log1p(f), f = m - 1, Cephes logf polynomial.
static inline __m256 log8(__m256 x) {
  const __m256 is_sub = _mm256_cmp_ps(x, set1(1.17549435e-38f), _CMP_LT_OQ);  // also 0 and < 0
  const __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, set1(8388608.0f)), is_sub);  // ·2^23
  const __m256i bits = _mm256_castps_si256(xs);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126));
  e = _mm256_sub_epi32(e, _mm256_and_si256(_mm256_castps_si256(is_sub), _mm256_set1_epi32(23)));
  // mantissa in [0.5, 1)
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f000000)));
  const __m256 lt = _mm256_cmp_ps(m, set1(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_add_epi32(e, _mm256_castps_si256(lt));  // mask lanes are -1
  const __m256 f = _mm256_sub_ps(_mm256_add_ps(m, _mm256_and_ps(lt, m)), set1(1.0f));
  const __m256 fe = _mm256_cvtepi32_ps(e);
  const __m256 z = _mm256_mul_ps(f, f);
  __m256 y = horner(vmpoly::kLog, f);
  y = _mm256_mul_ps(_mm256_mul_ps(y, f), z);
  y = vfma(fe, set1(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(set1(0.5f), z, y);
  __m256 r = _mm256_add_ps(f, y);
  r = vfma(fe, set1(0.693359375f), r);
  // Specials: +inf → inf, 0 → -inf, x < 0 or NaN → NaN.
  const __m256 inf = set1(__builtin_inff());
  r = _mm256_blendv_ps(r, inf, _mm256_cmp_ps(x, inf, _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, _mm256_sub_ps(_mm256_setzero_ps(), inf), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, set1(__builtin_nanf("")), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
  return r;
}

// ---- tanh -----------------------------------------------------------------------------------
static inline __m256 tanh8(__m256 x) {
  const __m256 ax = vabs(x);
  const __m256 z = _mm256_mul_ps(x, x);
  // |x| < 0.625: Cephes tanhf odd polynomial x + x·z·P(z)
  const __m256 p = horner(vmpoly::kTanh, z);
  const __m256 small = vfma(_mm256_mul_ps(p, z), x, x);
  // otherwise (1 - e)/(1 + e), e = exp(-2|x|) ∈ [0, 0.29]: no cancellation, saturates to 1
  const __m256 e = exp8(_mm256_mul_ps(ax, set1(-2.0f)));
  __m256 large = _mm256_div_ps(_mm256_sub_ps(set1(1.0f), e), _mm256_add_ps(set1(1.0f), e));
  large = _mm256_or_ps(large, vsign(x));
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, set1(0.625f), _CMP_LT_OQ));
}

// ---- sigmoid --------------------------------------------------------------------------------
static inline __m256 sigmoid8(__m256 x) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), vabs(x)));  // exp(-|x|) ∈ (0, 1]
  const __m256 d = _mm256_add_ps(set1(1.0f), e);
  const __m256 num = _mm256_blendv_ps(e, set1(1.0f), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
  return _mm256_div_ps(num, d);
}

// ---- g(z) = erfc(z)·exp(z²) for z ∈ [0, 10.5] ------------------------------------------------
// Degree-8 polynomials in (z - centre) on 8 intervals (Chebyshev fits, ≤ 3e-9 relative, ≤ 0.7 ULP
// evaluated in float);
// each lane picks its interval's coefficients with one permutevar8x32 per coefficient. The
// constant term is carried as hi + lo (kErfcCoef[8] + kErfcLo) and added last, so the result is
// rounded once on top of a small, accurately formed remainder. The tables: erfc_table.h.

// z must be ≥ 0 (NaN passes through).
static inline __m256 erfcx8(__m256 z) {
  z = _mm256_min_ps(set1(10.5f), z);
  // interval index = number of edges ≤ z (compare masks are -1)
  __m256i k = _mm256_setzero_si256();
  for (int i = 0; i < 7; i++)
    k = _mm256_sub_epi32(k, _mm256_castps_si256(_mm256_cmp_ps(z, set1(kErfcEdges[i]), _CMP_GE_OQ)));
  const __m256 s = _mm256_sub_ps(z, _mm256_permutevar8x32_ps(_mm256_load_ps(kErfcCentre), k));
  __m256 p = _mm256_permutevar8x32_ps(_mm256_load_ps(kErfcCoef[0]), k);
  for (int j = 1; j < 8; j++) p = vfma(p, s, _mm256_permutevar8x32_ps(_mm256_load_ps(kErfcCoef[j]), k));
  p = vfma(p, s, _mm256_permutevar8x32_ps(_mm256_load_ps(kErfcLo), k));
  return _mm256_add_ps(_mm256_permutevar8x32_ps(_mm256_load_ps(kErfcCoef[8]), k), p);
}

// ---- erf ------------------------------------------------------------------------------------
static inline __m256 erf8(__m256 x) {
  const __m256 ax = vabs(x);
  // |x| < 0.875: x·P(x²), Chebyshev fit of erf(x)/x, 1e-8 relative
  const __m256 x2 = _mm256_mul_ps(x, x);
  // x·(c0 + x²·P) with c0 = hi + lo (P's last term): the dominant x·c0_hi is fused with the small
  // remainder
  const __m256 p = horner(vmpoly::kErf, x2);
  const __m256 small = vfma(x, set1(1.128379107e+00f), _mm256_mul_ps(x, p));
  // otherwise 1 - exp(-z²)·g(z), z = min(|x|, 4) (erf(4) rounds to 1); z² split exactly
  const __m256 z = _mm256_min_ps(set1(4.0f), ax);
  const __m256 zh = _mm256_mul_ps(z, z);
  const __m256 zl = _mm256_fmsub_ps(z, z, zh);
  const __m256 e = exp8_lo_times_pow2(_mm256_sub_ps(_mm256_setzero_ps(), zh), _mm256_sub_ps(_mm256_setzero_ps(), zl), 0);
  __m256 large = _mm256_fnmadd_ps(e, erfcx8(z), set1(1.0f));
  large = _mm256_or_ps(large, vsign(x));
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, set1(0.875f), _CMP_LT_OQ));
}

// ---- GELU (erf form) --------------------------------------------------------------------------
// Φ(x) = erfc(-x/√2)/2. With z = |x|/√2 and h = exp(-x²/2)·g(z)/2: Φ = 1 - h for x ≥ 0, h for
// x < 0. Returns E = exp(-x²/2)·2^24 (x² split exactly) and g(z), for x clamped to [-16, 16].
static inline void gelu_erf_parts(__m256 xc, __m256* e_big, __m256* g) {
  const __m256 x2h = _mm256_mul_ps(xc, xc);
  const __m256 x2l = _mm256_fmsub_ps(xc, xc, x2h);
  const __m256 half = set1(0.5f);
  *e_big = exp8_lo_times_pow2(_mm256_mul_ps(x2h, _mm256_sub_ps(_mm256_setzero_ps(), half)),
                              _mm256_mul_ps(x2l, _mm256_sub_ps(_mm256_setzero_ps(), half)), 24);
  // z = |x|/√2 as zh + zl (1/√2 = ch + cl), and g(zh + zl) ≈ g(zh) + zl·g'(zh) with
  // g'(z) = 2z·g(z) - 2/√π: the rounding of z would otherwise cost half an ULP.
  const __m256 ax = vabs(xc);
  const __m256 zh = opaque(_mm256_mul_ps(ax, set1(7.071067691e-01f)));
  const __m256 zl = vfma(ax, set1(1.210161749e-08f), _mm256_fmsub_ps(ax, set1(7.071067691e-01f), zh));
  const __m256 g0 = erfcx8(zh);
  const __m256 dg = _mm256_fmsub_ps(_mm256_add_ps(zh, zh), g0, set1(1.12837916709551257f));
  *g = vfma(zl, dg, g0);
}

static inline __m256 gelu_erf8(__m256 x) {
  const __m256 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m256 e_big, g;
  gelu_erf_parts(xc, &e_big, &g);
  // h·2^24 = E·g/2 as hh + hl exactly (fma), so x·h rounds once
  const __m256 hh = opaque(_mm256_mul_ps(_mm256_mul_ps(e_big, g), set1(0.5f)));
  const __m256 hl = _mm256_mul_ps(_mm256_fmsub_ps(e_big, g, _mm256_add_ps(hh, hh)), set1(0.5f));
  const __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  // x ≥ 0: x·(1 - h); x < 0: (x·h·2^24)·2^-24, rounded into the subnormals once
  const __m256 rpos = _mm256_mul_ps(x, _mm256_fnmadd_ps(hh, set1(5.9604644775390625e-8f), set1(1.0f)));
  const __m256 rneg = _mm256_mul_ps(vfma(xc, hh, _mm256_mul_ps(xc, hl)), set1(5.9604644775390625e-8f));
  return _mm256_blendv_ps(rneg, rpos, pos);
}

// d/dx geluErf = Φ(x) + x·φ(x), φ(x) = exp(-x²/2)/√(2π). With E = exp(-x²/2):
//   x < 0: Φ + xφ = E·(g/2 + x/√(2π))       x ≥ 0: Φ + xφ = 1 + E·(x/√(2π) - g/2)
// evaluated with E·2^24 so the far negative tail keeps relative accuracy into the subnormals.
static inline __m256 gelu_erf_grad8(__m256 x) {
  const __m256 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m256 e_big, g;
  gelu_erf_parts(xc, &e_big, &g);
  const __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  const __m256 xphi = _mm256_mul_ps(xc, set1(0.398942280401432678f));
  const __m256 hg = _mm256_mul_ps(g, set1(0.5f));
  const __m256 t = _mm256_mul_ps(e_big, _mm256_blendv_ps(_mm256_add_ps(hg, xphi), _mm256_sub_ps(xphi, hg), pos));
  const __m256 tiny = set1(5.9604644775390625e-8f);  // 2^-24
  return _mm256_blendv_ps(_mm256_mul_ps(t, tiny), vfma(t, tiny, set1(1.0f)), pos);
}

// ---- GELU (tanh form) -------------------------------------------------------------------------
// geluTanh(x) = 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), 2u = k1·x + k3·x³,
// k1 = 2·sqrt(2/π), k3 = k1·0.044715. 2u is carried as rh + rl (double-float) so exp(-|2u|) keeps
// relative accuracy even where |2u| ≈ 80.
static inline void gelu_tanh_arg(__m256 xc, __m256* rh, __m256* rl) {
  const __m256 k1h = set1(1.595769167e+00f), k1l = set1(-4.534068054e-08f);
  const __m256 k3h = set1(7.135481387e-02f), k3l = set1(2.398832466e-09f);
  const __m256 x2h = _mm256_mul_ps(xc, xc);
  const __m256 x2l = _mm256_fmsub_ps(xc, xc, x2h);
  const __m256 ph = opaque(_mm256_mul_ps(k3h, x2h));  // rounded alone: the two-sum below needs it
  __m256 pl = _mm256_fmsub_ps(k3h, x2h, ph);
  pl = vfma(k3h, x2l, pl);
  pl = vfma(k3l, x2h, pl);
  // two-sum: qh + sl = k1h + ph exactly
  const __m256 qh = _mm256_add_ps(k1h, ph);
  const __m256 bv = _mm256_sub_ps(qh, k1h);
  const __m256 sl = _mm256_add_ps(_mm256_sub_ps(k1h, _mm256_sub_ps(qh, bv)), _mm256_sub_ps(ph, bv));
  const __m256 ql = _mm256_add_ps(_mm256_add_ps(sl, pl), k1l);
  const __m256 h = opaque(_mm256_mul_ps(xc, qh));
  *rh = h;
  *rl = vfma(xc, ql, _mm256_fmsub_ps(xc, qh, h));
}

static inline __m256 gelu_tanh8(__m256 x) {
  const __m256 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m256 rh, rl;
  gelu_tanh_arg(xc, &rh, &rl);
  const __m256 neg = _mm256_cmp_ps(rh, _mm256_setzero_ps(), _CMP_LT_OQ);
  // a + al = -|2u|
  const __m256 a = _mm256_sub_ps(_mm256_setzero_ps(), vabs(rh));
  const __m256 al = _mm256_blendv_ps(_mm256_sub_ps(_mm256_setzero_ps(), rl), rl, neg);
  const __m256 e_big = exp8_lo_times_pow2(a, al, 24);
  const __m256 d = vfma(e_big, set1(5.9604644775390625e-8f), set1(1.0f));  // 1 + e
  // 2u ≥ 0: x/(1 + e); 2u < 0: (x·e·2^24/(1 + e))·2^-24
  const __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(xc, e_big), neg);
  const __m256 q = _mm256_div_ps(num, d);
  return _mm256_mul_ps(q, _mm256_blendv_ps(set1(1.0f), set1(5.9604644775390625e-8f), neg));
}

// d/dx geluTanh = S·(1 + x·(1 - S)·(k1 + 3·k3·x²)) with S = sigmoid(2u)
// (the same as 0.5(1+t) + 0.5x(1-t²)·c·(1+3·0.044715x²), t = tanh u, without its cancellations).
// e = exp(-|2u|) from the double-float 2u and, for 2u < 0, kept ·2^24 until the end (as gelu_tanh8).
static inline __m256 gelu_tanh_grad8(__m256 x) {
  const __m256 xc = clamp_keep_nan(x, -16.0f, 16.0f);
  __m256 rh, rl;
  gelu_tanh_arg(xc, &rh, &rl);
  const __m256 neg = _mm256_cmp_ps(rh, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 a = _mm256_sub_ps(_mm256_setzero_ps(), vabs(rh));
  const __m256 al = _mm256_blendv_ps(_mm256_sub_ps(_mm256_setzero_ps(), rl), rl, neg);
  const __m256 tiny = set1(5.9604644775390625e-8f);  // 2^-24
  const __m256 e_big = exp8_lo_times_pow2(a, al, 24);
  const __m256 inv = _mm256_div_ps(set1(1.0f), vfma(e_big, tiny, set1(1.0f)));  // 1/(1 + e)
  const __m256 ei_big = _mm256_mul_ps(e_big, inv);                                 // e/(1 + e) · 2^24
  // S (·2^24 when 2u < 0) and 1 - S
  const __m256 s = _mm256_blendv_ps(inv, ei_big, neg);
  const __m256 sc = _mm256_blendv_ps(_mm256_mul_ps(ei_big, tiny), inv, neg);
  const __m256 dr = vfma(_mm256_mul_ps(xc, xc), set1(2.140644491e-01f), set1(1.595769167e+00f));
  const __m256 d = vfma(_mm256_mul_ps(s, sc), _mm256_mul_ps(xc, dr), s);
  return _mm256_mul_ps(d, _mm256_blendv_ps(set1(1.0f), tiny, neg));
}

}  // namespace vm
}  // namespace tg
