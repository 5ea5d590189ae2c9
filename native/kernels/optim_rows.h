// The SGD and RMSprop steps over a run of parameters, written once for every instruction set:
// each level's fused_<isa>.cc instantiates them with its vector of doubles (D below), and every
// level gives the same bits, those of the TypeScript backend (src/backend/js/fused.ts).
//
// PyTorch's float32 tensors round after each of its tensor operations; the TypeScript backend
// computes in float64 and rounds (Math.fround, or a store to a Float32Array) at those places. These
// loops do the same operations in the same order on doubles, W at a time: widening a float, +, -,
// *, / and sqrt are exact or correctly rounded in double, and rounding to float is one conversion,
// so a lane computes what the scalar loop computes. The run's last n mod W elements go through the
// same template with the scalar D. No FMA: the kernels are compiled with -ffp-contract=off.
//
// A D provides: W (lanes), V (the vector type), load (W floats widened), store (W doubles rounded
// to float), round (to float and back), set1, add, sub, mul, div, sqrt, neg.
//
// Everything here has internal linkage (an unnamed namespace), as in simd_avx2.h: each level's
// file compiles its own copy with its own flags, so the linker cannot hand the scalar level a copy
// of the tail loop built with AVX-512 instructions.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/fused.h"

namespace tg {
namespace optim_rows {
namespace {

// One double per lane: the reference semantics, and the tail of every vector level.
struct ScalarD {
  static constexpr int W = 1;
  using V = double;
  static V load(const float* p) { return double(*p); }
  static void store(float* p, V x) { *p = static_cast<float>(x); }
  static V round(V x) { return double(static_cast<float>(x)); }
  static V set1(double x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V sqrt(V a) { return std::sqrt(a); }
  static V neg(V a) { return -a; }
};

// Elements [i0, i1) of sgd_step (fused.h), i1 - i0 a multiple of D::W:
//   d = round(sign·g); with weight decay d = round(d + wd·p);
//   with a momentum buffer: b = first ? d : round(buf·momentum) + (1 - dampening)·d, buf = round(b),
//     d = nesterov ? d + momentum·b : b;
//   p = round(p - lr·d).
template <class D, bool kWd, bool kBuf, bool kFirst, bool kNesterov>
inline void sgd_span(float* p, const float* g, float* buf, int64_t i0, int64_t i1, const SgdParams& hp) {
  using V = typename D::V;
  const V sign = D::set1(hp.maximize ? -1.0 : 1.0), lr = D::set1(hp.lr), mom = D::set1(hp.momentum);
  const V omd = D::set1(1.0 - hp.dampening), wd = D::set1(hp.weight_decay);
  for (int64_t i = i0; i < i1; i += D::W) {
    const V pi = D::load(p + i);
    V d = D::round(D::mul(sign, D::load(g + i)));
    if (kWd) d = D::round(D::add(d, D::mul(wd, pi)));
    if (kBuf) {
      const V b = kFirst ? d : D::add(D::round(D::mul(D::load(buf + i), mom)), D::mul(omd, d));
      D::store(buf + i, b);
      d = kNesterov ? D::add(d, D::mul(mom, b)) : b;
    }
    D::store(p + i, D::sub(pi, D::mul(lr, d)));
  }
}

template <class D, bool kWd, bool kBuf, bool kFirst, bool kNesterov>
void sgd_flags(float* p, const float* g, float* buf, int64_t n, const SgdParams& hp) {
  const int64_t main = n - n % D::W;
  sgd_span<D, kWd, kBuf, kFirst, kNesterov>(p, g, buf, 0, main, hp);
  sgd_span<ScalarD, kWd, kBuf, kFirst, kNesterov>(p, g, buf, main, n, hp);
}

// sgd_step's arithmetic over n elements with the lanes of D (buf may be null: no momentum).
template <class D>
void sgd(float* p, const float* g, float* buf, int64_t n, const SgdParams& hp) {
  const bool wd = hp.weight_decay != 0.0;
  if (buf == nullptr) {
    if (wd) return sgd_flags<D, true, false, false, false>(p, g, buf, n, hp);
    return sgd_flags<D, false, false, false, false>(p, g, buf, n, hp);
  }
  const int f = (wd ? 4 : 0) | (hp.first ? 2 : 0) | (hp.nesterov ? 1 : 0);
  switch (f) {
    case 0: return sgd_flags<D, false, true, false, false>(p, g, buf, n, hp);
    case 1: return sgd_flags<D, false, true, false, true>(p, g, buf, n, hp);
    case 2: return sgd_flags<D, false, true, true, false>(p, g, buf, n, hp);
    case 3: return sgd_flags<D, false, true, true, true>(p, g, buf, n, hp);
    case 4: return sgd_flags<D, true, true, false, false>(p, g, buf, n, hp);
    case 5: return sgd_flags<D, true, true, false, true>(p, g, buf, n, hp);
    case 6: return sgd_flags<D, true, true, true, false>(p, g, buf, n, hp);
    default: return sgd_flags<D, true, true, true, true>(p, g, buf, n, hp);
  }
}

// Elements [i0, i1) of rmsprop_step (fused.h), i1 - i0 a multiple of D::W:
//   g' = ±g; with weight decay g' = round(g' + wd·p);
//   s = round(sq·alpha) + (1 - alpha)·g'·g', sq = round(s);
//   centered: a = round(gradAvg·alpha) + (1 - alpha)·g', gradAvg = round(a), r = sqrt(round(s - a·a));
//   else r = sqrt(s);
//   r = round(r) + eps;
//   with a momentum buffer: b = round(buf·momentum) + g'/r, buf = round(b), p = round(p - lr·b);
//   else p = round(p - (lr·g')/r).
template <class D, bool kWd, bool kCentered, bool kBuf>
inline void rmsprop_span(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t i0, int64_t i1,
                         const RmspropParams& hp) {
  using V = typename D::V;
  const V lr = D::set1(hp.lr), alpha = D::set1(hp.alpha), oma = D::set1(1.0 - hp.alpha), eps = D::set1(hp.eps);
  const V wd = D::set1(hp.weight_decay), mom = D::set1(hp.momentum);
  const bool maximize = hp.maximize;
  for (int64_t i = i0; i < i1; i += D::W) {
    const V pi = D::load(p + i);
    V gi = D::load(g + i);
    if (maximize) gi = D::neg(gi);
    if (kWd) gi = D::round(D::add(gi, D::mul(wd, pi)));
    const V si = D::add(D::round(D::mul(D::load(sq + i), alpha)), D::mul(D::mul(oma, gi), gi));
    D::store(sq + i, si);
    V avg;
    if (kCentered) {
      const V gai = D::add(D::round(D::mul(D::load(grad_avg + i), alpha)), D::mul(oma, gi));
      D::store(grad_avg + i, gai);
      avg = D::sqrt(D::round(D::sub(si, D::mul(gai, gai))));
    } else {
      avg = D::sqrt(si);
    }
    avg = D::add(D::round(avg), eps);
    if (kBuf) {
      const V bi = D::add(D::round(D::mul(D::load(buf + i), mom)), D::div(gi, avg));
      D::store(buf + i, bi);
      D::store(p + i, D::sub(pi, D::mul(lr, bi)));
    } else {
      D::store(p + i, D::sub(pi, D::div(D::mul(lr, gi), avg)));
    }
  }
}

template <class D, bool kWd, bool kCentered, bool kBuf>
void rmsprop_flags(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t n, const RmspropParams& hp) {
  const int64_t main = n - n % D::W;
  rmsprop_span<D, kWd, kCentered, kBuf>(p, g, sq, grad_avg, buf, 0, main, hp);
  rmsprop_span<ScalarD, kWd, kCentered, kBuf>(p, g, sq, grad_avg, buf, main, n, hp);
}

// rmsprop_step's arithmetic over n elements with the lanes of D (grad_avg and buf may be null).
template <class D>
void rmsprop(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t n, const RmspropParams& hp) {
  const int f = (hp.weight_decay != 0.0 ? 4 : 0) | (grad_avg != nullptr ? 2 : 0) | (buf != nullptr ? 1 : 0);
  switch (f) {
    case 0: return rmsprop_flags<D, false, false, false>(p, g, sq, grad_avg, buf, n, hp);
    case 1: return rmsprop_flags<D, false, false, true>(p, g, sq, grad_avg, buf, n, hp);
    case 2: return rmsprop_flags<D, false, true, false>(p, g, sq, grad_avg, buf, n, hp);
    case 3: return rmsprop_flags<D, false, true, true>(p, g, sq, grad_avg, buf, n, hp);
    case 4: return rmsprop_flags<D, true, false, false>(p, g, sq, grad_avg, buf, n, hp);
    case 5: return rmsprop_flags<D, true, false, true>(p, g, sq, grad_avg, buf, n, hp);
    case 6: return rmsprop_flags<D, true, true, false>(p, g, sq, grad_avg, buf, n, hp);
    default: return rmsprop_flags<D, true, true, true>(p, g, sq, grad_avg, buf, n, hp);
  }
}

}  // namespace
}  // namespace optim_rows
}  // namespace tg
