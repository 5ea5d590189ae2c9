// log(ones) for the split log Σ = log(ones) + log1p(rest/ones) of the softmax and cross-entropy
// rows (softmax.h): `ones` counts the logits equal to the row's max, almost always exactly 1,
// whose log is +0 exactly, so the libm call is skipped there with the same bits (log1p of a
// non-negative rest is never -0, so adding +0 changes nothing). A 128x10 cross-entropy row took
// about a fifth of its time in that log.
//
// `static inline`: each translation unit compiles its own copy with its own -m flags (the trap
// vmath_avx2.h describes).
#pragma once

#include <cmath>

namespace tg {

static inline double log_count(double ones) { return ones == 1.0 ? 0.0 : std::log(ones); }

}  // namespace tg
