// Elementwise kernels: broadcasting binary ops, sum_to (their backward), unary maps and their
// derivatives, axis permutation. Plain C++ on caller-allocated float32 buffers; no N-API.
//
// Semantics follow the TypeScript backend (src/backend/js/broadcast.ts, unary.ts, permute.ts).
// Every function runs the active ISA's primitives (kernels/dispatch.h: AVX2+FMA, also at AVX-512,
// NEON on aarch64, or the portable scalar path; env TENSORGRAD_ISA=scalar forces the latter).
//
// Preconditions (checked by the N-API glue, not here): shapes are non-negative, each buffer holds
// at least the product of its shape, broadcast shapes are compatible (check_broadcast below).
// Sizes of 0 are fine everywhere (nothing is read or written; null pointers allowed then).
//
// Single-threaded. Threading would pay for tensors above ~256K elements (split the flat range or
// the outer rows; every kernel here is embarrassingly parallel along its outer loop).
#pragma once

#include <cstdint>

namespace tg {

class ThreadPool;

enum class BinaryOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3 };

enum class UnaryOp : int {
  Neg = 0,
  Abs,
  Sqrt,
  Exp,
  Log,
  Pow,        // p0 = exponent
  Clamp,      // p0 = lo, p1 = hi (±inf when absent)
  Relu,
  LeakyRelu,  // p0 = negative slope
  Sigmoid,
  Tanh,
  GeluTanh,
  GeluErf,
  Erf,        // not in the TS interface: the vectorised erf, for tests and future ops
};

// The TypeScript names ('add', 'sub', 'mul', 'div'; 'neg', 'abs', ..., 'geluTanh', 'geluErf').
// Return false (and leave *op alone) for an unknown name. "erf" is not accepted.
bool parse_binary_op(const char* name, BinaryOp* op);
bool parse_unary_op(const char* name, UnaryOp* op);

// Product of a shape's dims (1 for rank 0).
int64_t shape_numel(const int64_t* shape, int rank);

// True when in_shape broadcasts to out_shape by NumPy rules: in_rank <= out_rank and, aligning the
// shapes at the right, every dim of in_shape is 1 or equal to out_shape's.
bool check_broadcast(const int64_t* in_shape, int in_rank, const int64_t* out_shape, int out_rank);

// out = a (op) b with NumPy broadcasting of a_shape and b_shape to out_shape (ranks may differ;
// shapes align at the right). Arithmetic is float32 (bit-identical to the TS backend, whose float64
// result of one +,-,*,/ on floats rounds to the same float). out may alias a or b when that operand
// has out's shape. Any rank (dims are coalesced first).
void binary(BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
            const int64_t* b_shape, int b_rank, float* out, const int64_t* out_shape, int out_rank);

// Sums x (shape x_shape) over its broadcast dims into out (shape out_shape, right-aligned against
// x_shape, each dim 1 or equal to x's): the backward of broadcasting. Accumulates in double, so a
// 10^5-row bias gradient is exact to float precision. out may alias x only when shapes are equal.
void sum_to(const float* x, const int64_t* x_shape, int x_rank, float* out, const int64_t* out_shape,
            int out_rank);

// out[i] = f(x[i]) for i < n. out may alias x. p0/p1 as in UnaryOp.
// Exact (bit-identical to the TS backend): neg, abs, sqrt, clamp, relu, leakyRelu (computed in
// double as the TS does), pow (libm pow in double; x*x for p0 = 2). Transcendental maps: see the
// bounds in vmath_avx2.h (AVX2) — the scalar path evaluates in double and rounds once (≤ 1 ULP).
// Note relu(NaN) = 0 and leakyRelu(NaN) = NaN, as in unary.ts; gelu(-inf) = -0 (the limit).
// With a pool, n >= kElementParallelMin is split over its threads (kernels/parallel.h): the
// same bits for any thread count. Also for unary_grad.
void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1, ThreadPool* pool = nullptr);

// gx[i] = gy[i]·f'(x[i]), formulas of unary.ts. y = f(x) is read by sqrt, exp, sigmoid and tanh
// (x is not read by them; pass x for the others). Unused pointers may be null:
//   reads gy always; x for abs, log, pow, clamp, relu, leakyRelu, geluTanh, geluErf, erf;
//   y for sqrt, exp, sigmoid, tanh.
// Algebraic derivatives are evaluated in double exactly as unary.ts writes them (bit-identical);
// the GELU/erf derivatives use the vectorised math on AVX2 (relative error ≲ 1e-6 of
// |gy|·(|Φ| + |x·φ|) — see test_elementwise.cc) and double on the scalar path.
// gx may alias any input.
void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n,
                double p0, double p1, ThreadPool* pool = nullptr);

// out = x permuted by axes: out's shape is shape[axes[i]]. axes must be a permutation of
// 0..rank-1. out must not overlap x. A copy, so exact; dims are coalesced, and whenever the
// innermost input dim moves, a cache-blocked 2-D transpose (8x8 AVX2 register transposes) runs.
void permute(const float* x, const int64_t* shape, const int64_t* axes, int rank, float* out);

}  // namespace tg
