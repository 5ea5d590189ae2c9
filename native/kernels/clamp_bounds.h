// Float thresholds for clamp's double bounds, shared by the scalar and AVX2 clamp and its
// gradient. `static inline` and builtins only (no std::nextafter): each translation unit keeps its
// own copy, so the linker can never hand a baseline caller a body compiled with -mavx2.
#pragma once

namespace tg {

// The TS clamp compares float x with the double bounds. Against float thresholds the same tests
// read: x < lo ⇔ x < (smallest float ≥ lo), x > hi ⇔ x > (largest float ≤ hi).
static inline float float_at_or_above(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = __builtin_nextafterf(f, __builtin_inff());
  return f;
}
static inline float float_at_or_below(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) f = __builtin_nextafterf(f, -__builtin_inff());
  return f;
}

}  // namespace tg
