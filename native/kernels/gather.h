#pragma once
#include <cstdint>

namespace tg {

// Row gathers, scatters and block copies (indexSelect, concat, the max/min backward) and the
// partial norms of gradient clipping. Same bits as the TypeScript kernels
// (src/backend/js/gather.ts). Callers check every index first (first_bad_index, first_bad_arg):
// these kernels trust them.

// Position of the first idx[i] outside [0, rows), or -1.
int64_t first_bad_index(const int32_t* idx, int64_t n, int64_t rows);

// out[i*row + j] = x[idx[i]*row + j].
void gather_rows(const float* x, int64_t row, const int32_t* idx, int64_t n, float* out);

// gx[idx[i]*row + j] += g[i*row + j], i in order (repeated indices accumulate in that order).
void scatter_add_rows(const float* g, int64_t row, const int32_t* idx, int64_t n, float* gx);

// dst[r*dst_stride + j] = src[r*src_stride + j] for r < rows, j < width.
void copy_blocks(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t width);

// Position of the first arg[i] that is not an integer in [0, n), or -1.
int64_t first_bad_arg(const double* arg, int64_t len, int64_t n);

// gx[(o*n + arg[r])*inner + j] = g[r], r = o*inner + j.
void scatter_arg(const float* g, const double* arg, int64_t outer, int64_t n, int64_t inner, float* gx);

// gx[i] = total / count where x[i] == v (x[i] is NaN, when v is NaN); returns count.
int64_t share_equal(const float* x, int64_t len, float v, double total, float* gx);

// sum |x[i]|^ord in double with four running sums over i mod 4, added (s0 + s1) + (s2 + s3);
// max |x[i]| for ord = +inf (NaN when any x[i] is NaN).
double norm_part(const float* x, int64_t len, double ord);

}  // namespace tg
