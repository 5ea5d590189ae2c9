// Fused kernels: softmax-cross-entropy forward+backward, and the Adam/AdamW parameter update.
// Plain C++ on caller-allocated float32 buffers; the row passes and the Adam step are the active
// ISA's (kernels/dispatch.h).
#pragma once

#include <cstdint>

namespace tg {

class ThreadPool;

// ---- softmax cross-entropy ------------------------------------------------------------------------
//
// logits [rows, classes], row-major. Per row r, with lse = log Σ_c exp(x_c) (max subtracted first)
// and the PyTorch label-smoothing target t' = (1 - ε)·t + ε/classes:
//
//   loss_r     = Σ_c t'_c·(lse - x_c)
//   dlogits_rc = (P·softmax_c - t'_c) · scale · (row_scale ? row_scale[r] : 1),   P = Σ_c t'_c
//
// which is the exact gradient of loss_r (P = 1 for one-hot or normalised probability targets, so
// this is the familiar softmax - target). Use scale = 1/rows for a mean (1/number of non-ignored
// rows with ignore_index), row_scale for a per-row upstream gradient (reduction 'none').
//
// Three passes over a row: the max (and Σx when ε > 0); exp(x - max) into the dlogits row and
// its sum (and the target sums); the gradient, rescaling the stored exps in place — exp runs once
// per logit. Sums in double; log Σ is split as log(ones) + log1p(rest/ones) (see softmax.h), so
// even a confident row's loss (~1e-20) is relatively exact, and the target's gradient
// -(Σ - e_t)/Σ is formed without cancellation. Asserted by test_fused.cc against long double:
// loss within 2 ULP + 4e-7 relative (observed ≤ 1.2 ULP), dlogits within 4 ULP + 3e-7 of
// |scale|·(softmax + target) (observed ≤ 3 ULP of that), for logits up to ±1e30.
// dlogits may alias logits (in place); it may be null (loss only). row_loss may be null.
// Returns Σ_r loss_r over the rows not ignored, in double.
//
// Index targets: `targets` holds class indices as float32 (the library's convention for index
// tensors; exact up to 2^24). The glue validates them (integers in [0, classes), or ignore_index).
// A row whose target equals ignore_index gets loss 0 and a zero gradient row (PyTorch's default is
// -100). Defensive only: any other out-of-range or non-integer target makes that row's loss and
// gradient NaN instead of reading out of bounds.
// Probability targets (MixUp / soft labels): `target_probs` is [rows, classes]; its rows need not
// sum to 1 (P handles it). A probability of 0 against a logit of -inf gives NaN, as PyTorch.
// classes must be ≥ 1 (the glue rejects 0).
double softmax_xent_index(const float* logits, int64_t rows, int64_t classes, const float* targets,
                          int64_t ignore_index, double label_smoothing, double scale, const float* row_scale,
                          float* row_loss, float* dlogits);

double softmax_xent_prob(const float* logits, int64_t rows, int64_t classes, const float* target_probs,
                         double label_smoothing, double scale, const float* row_scale, float* row_loss,
                         float* dlogits);

// ---- Adam / AdamW ------------------------------------------------------------------------------------
//
// One step over a flat buffer of n parameters, PyTorch's single-tensor Adam (torch/optim/adam.py,
// maximize=False, not capturable) in its exact order, in float32 with the hyper-parameters
// converted to float where PyTorch's kernels do:
//
//   if weight_decay != 0:  decoupled ? p *= (1 - lr·wd)            (AdamW)
//                                    : g  = g + wd·p               (Adam; g is a local copy)
//   m  = lerp(m, g, 1 - beta1)          (m + w·(g - m), or g - (g - m)·(1 - w) when w ≥ 0.5)
//   v  = v·beta2 + (1 - beta2)·g·g
//   vmax = max(vmax, v)                 (amsgrad; NaN propagates like torch.maximum)
//   denom = sqrt(amsgrad ? vmax : v) · (1 / sqrt(1 - beta2^t)) + eps
//   p  = p + (-lr / (1 - beta1^t)) · m / denom
//
// `step` is t, the 1-based count of this update (PyTorch increments state['step'] first).
// One departure from PyTorch's order: it divides sqrt(v) by sqrt(1 - beta2^t); here sqrt(v) is
// multiplied by that constant's reciprocal (rounded once to float), which can move denom by an
// ULP. The divider, not memory, bounds this step when its arrays are in cache (401k parameters,
// one Zen 5 core, AVX2: 165 us with two divisions and a square root per element, 119 us with one
// division, 92 us for the same memory traffic with none).
// vmax (the amsgrad state, zero-initialised like m and v) is read only when amsgrad; with a null
// vmax amsgrad is ignored, so the glue must pass it. g is read only. p, m, v (and vmax) are
// updated in place. PyTorch's own vectorised CPU kernels fuse some of these multiply-adds, so
// its results can differ from these (and from its scalar kernels) in the last bit.
// The scalar, AVX2 and NEON paths perform the same float operations (no FMA contraction), so they
// give bit-identical results. With a pool, buffers of at least kAdamParallelMin parameters
// are split into one contiguous piece per thread (a multiple of 16 elements); every element is
// computed the same way wherever it falls, so the result is bitwise identical for any thread count.
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // AdamW
  bool amsgrad = false;
  int64_t step = 1;
};

constexpr int64_t kAdamParallelMin = 65536;  // below this, waking a worker costs more than it saves

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamParams& hp,
               ThreadPool* pool = nullptr);

// One parameter of adam_steps: adam_step's buffers and its own step count (a parameter that had
// no gradient at some step is a step behind the others, as in PyTorch).
struct AdamSlot {
  float* p;
  const float* g;
  float* m;
  float* v;
  float* vmax;  // null unless amsgrad
  int64_t n;
  int64_t step;
};

// adam_step over every slot (an optimizer's parameter group) in one call, with hp.step ignored:
// each slot's result is bitwise what adam_step gives it. One fork-join for the whole group
// instead of one per parameter: each thread takes its piece of every slot of at least
// kAdamParallelMin parameters (the piece adam_step would give it, so the rows of a weight stay
// with the core that wrote their gradient) and the calling thread does the small slots whole.
// The buffers of different slots must not overlap (the N-API layer checks).
void adam_steps(const AdamSlot* slots, int64_t count, const AdamParams& hp, ThreadPool* pool = nullptr);

// ---- SGD and RMSprop ------------------------------------------------------------------------------
//
// torch/optim/sgd.py and rmsprop.py, computed in double with rounding to float exactly where the
// TypeScript backend rounds (Math.fround, and every store to a float array), in the same order: the
// two backends give the same bits. Each level runs them on its widest vector of doubles (4 lanes
// AVX2, 8 AVX-512, 2 NEON: optim_rows.h), with the same bits as one double at a time. Split over
// the pool like Adam (elementwise: any thread count gives the same bits).
struct SgdParams {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
  bool first = false;  // the momentum buffer is new: it takes the update itself
};

// p -= lr·d, d = ±g (+ wd·p), through the momentum buffer buf when it is not null.
void sgd_step(float* p, const float* g, float* buf, int64_t n, const SgdParams& hp, ThreadPool* pool = nullptr);

struct RmspropParams {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool maximize = false;
};

// sq is the square average; grad_avg (centered) and buf (momentum) may be null.
void rmsprop_step(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t n, const RmspropParams& hp,
                  ThreadPool* pool = nullptr);

namespace detail {
// The constants of one Adam step as float, the way PyTorch's kernels see them (internal: shared by
// the scalar and AVX2 implementations).
struct AdamConsts {
  float wd;        // weight_decay (Adam: g += wd·p)
  float decay;     // 1 - lr·wd (AdamW: p *= decay)
  float w;         // lerp weight 1 - beta1
  float omw;       // 1 - w, in float (lerp's large-weight branch)
  float beta2;
  float omb2;      // 1 - beta2
  float inv_bc2s;  // 1 / sqrt(1 - beta2^t), rounded once: a multiply where PyTorch divides (see above)
  float eps;
  float neg_step;  // -lr / (1 - beta1^t)
  bool small_w;    // |w| < 0.5
  bool coupled_wd;
  bool decoupled_wd;
  bool amsgrad;
};
}  // namespace detail

}  // namespace tg
