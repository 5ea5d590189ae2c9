#pragma once
#include <cstdint>

namespace tg {

// Element loops of nllLoss, bce and bceWithLogits (see Backend in src/backend/backend.ts). Every
// value is computed in double and rounded to float once when stored, with the operations of the
// TypeScript kernels (src/backend/js/losses.ts); the transcendental functions are the C library's,
// so results can differ from V8's in the last bit of a double, rarely of a float.

// loss[r] = -logp[r*classes + target[r]] (0 where target[r] == ignore); stats = {sum, count}.
// Returns -1, or the first row whose target is neither ignore nor a class index (stats unset).
int64_t nll_loss(const float* logp, int64_t rows, int64_t classes, const float* target, double ignore, float* loss,
                 double stats[2]);

// gx[r*classes + target[r]] = -(g ? g[r] : g_scalar) for the rows not ignored (targets checked by
// nll_loss first: an out-of-range one is skipped, never written out of bounds).
void nll_loss_grad(int64_t rows, int64_t classes, const float* target, double ignore, const float* g, double g_scalar,
                   float* gx);

// Binary cross-entropy of x[0..n) against y: on logits (pos_weight of pw_len 1 or `last` elements
// along the last dim, or null) or on probabilities (logs clamped at -100). Returns -1, or for
// probabilities the index of the first x outside [0, 1].
int64_t bce_loss(bool logits, const float* x, const float* y, int64_t n, const float* pw, int64_t pw_len, int64_t last,
                 float* loss);

// Gradients of bce_loss for the output gradient g: gx and gy, each skipped when null.
void bce_loss_grad(bool logits, const float* x, const float* y, int64_t n, const float* pw, int64_t pw_len,
                   int64_t last, const float* g, float* gx, float* gy);

}  // namespace tg
