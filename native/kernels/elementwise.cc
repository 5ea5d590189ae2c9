// Elementwise kernels: shape handling (coalescing, odometers) and threading; the arithmetic is the
// active ISA's (kernels/dispatch.h: elementwise_scalar.cc, elementwise_avx2.cc).
#include "kernels/elementwise.h"

#include <cstring>
#include <memory>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/parallel.h"
#include "kernels/reduce.h"

namespace tg {

namespace {

// A few int64 slots on the stack, on the heap past N (ranks above 16 are legal, just unusual).
template <int N>
class Slots {
 public:
  explicit Slots(size_t n) : p_(local_) {
    if (n > static_cast<size_t>(N)) {
      heap_.reset(new int64_t[n]);
      p_ = heap_.get();
    }
  }
  int64_t& operator[](size_t i) { return p_[i]; }
  int64_t operator[](size_t i) const { return p_[i]; }

 private:
  int64_t local_[N];
  std::unique_ptr<int64_t[]> heap_;
  int64_t* p_;
};

// Strides of `shape` (rank in_rank, right-aligned to rank) seen from the broadcast output: 0
// where the dim is 1 (the same element is read again along it), as broadcastStrides in broadcast.ts.
void broadcast_strides(const int64_t* shape, int in_rank, int rank, int64_t* strides) {
  int64_t s = 1;
  for (int r = rank - 1, i = in_rank - 1; r >= 0; r--, i--) {
    const int64_t d = i >= 0 ? shape[i] : 1;
    strides[r] = d == 1 ? 0 : s;
    s *= d;
  }
}

}  // namespace

bool parse_binary_op(const char* name, BinaryOp* op) {
  static const struct { const char* s; BinaryOp op; } kNames[] = {
      {"add", BinaryOp::Add}, {"sub", BinaryOp::Sub}, {"mul", BinaryOp::Mul}, {"div", BinaryOp::Div}};
  if (name == nullptr) return false;
  for (const auto& e : kNames)
    if (std::strcmp(name, e.s) == 0) {
      *op = e.op;
      return true;
    }
  return false;
}

bool parse_unary_op(const char* name, UnaryOp* op) {
  static const struct { const char* s; UnaryOp op; } kNames[] = {
      {"neg", UnaryOp::Neg},         {"abs", UnaryOp::Abs},         {"sqrt", UnaryOp::Sqrt},
      {"exp", UnaryOp::Exp},         {"log", UnaryOp::Log},         {"pow", UnaryOp::Pow},
      {"clamp", UnaryOp::Clamp},     {"relu", UnaryOp::Relu},       {"leakyRelu", UnaryOp::LeakyRelu},
      {"sigmoid", UnaryOp::Sigmoid}, {"tanh", UnaryOp::Tanh},       {"geluTanh", UnaryOp::GeluTanh},
      {"geluErf", UnaryOp::GeluErf}};
  if (name == nullptr) return false;
  for (const auto& e : kNames)
    if (std::strcmp(name, e.s) == 0) {
      *op = e.op;
      return true;
    }
  return false;
}

int64_t shape_numel(const int64_t* shape, int rank) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  return n;
}

bool check_broadcast(const int64_t* in_shape, int in_rank, const int64_t* out_shape, int out_rank) {
  if (in_rank < 0 || out_rank < 0 || in_rank > out_rank) return false;
  for (int i = in_rank - 1, o = out_rank - 1; i >= 0; i--, o--) {
    if (in_shape[i] < 0 || out_shape[o] < 0) return false;
    if (in_shape[i] != 1 && in_shape[i] != out_shape[o]) return false;
  }
  return true;
}

// ---- binary -------------------------------------------------------------------------------------

void binary(BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
            const int64_t* b_shape, int b_rank, float* out, const int64_t* out_shape, int out_rank) {
  const int64_t size = shape_numel(out_shape, out_rank);
  if (size <= 0) return;
  const auto row = active_kernels().elementwise.binary_row;
  const int64_t na = shape_numel(a_shape, a_rank), nb = shape_numel(b_shape, b_rank);
  // The common cases first: same shape, one scalar operand.
  if (na == size && nb == size) return row(op, a, 1, b, 1, out, size);
  if (nb == 1 && na == size) return row(op, a, 1, b, 0, out, size);
  if (na == 1 && nb == size) return row(op, a, 0, b, 1, out, size);

  // Broadcast strides, then drop size-1 dims and merge neighbours that are contiguous (or both
  // broadcast) in both operands: [B, T, C] + [C] becomes [B·T, C] + [1, C].
  const int R = out_rank;
  Slots<16> sa(R), sb(R), dim(R), ca(R), cb(R);
  broadcast_strides(a_shape, a_rank, R, &sa[0]);
  broadcast_strides(b_shape, b_rank, R, &sb[0]);
  int c = 0;
  for (int d = 0; d < R; d++) {
    const int64_t n = out_shape[d];
    if (n == 1) continue;
    if (c > 0 && ca[c - 1] == sa[d] * n && cb[c - 1] == sb[d] * n) {
      dim[c - 1] *= n;
      ca[c - 1] = sa[d];
      cb[c - 1] = sb[d];
    } else {
      dim[c] = n;
      ca[c] = sa[d];
      cb[c] = sb[d];
      c++;
    }
  }
  if (c == 0) return row(op, a, 0, b, 0, out, 1);
  // Rows along the last coalesced dim (operand strides 0 or 1 there); an odometer walks the rest.
  const int64_t len = dim[c - 1];
  const int64_t rows = size / len;
  Slots<16> idx(c);
  for (int d = 0; d < c; d++) idx[d] = 0;
  int64_t ao = 0, bo = 0;
  for (int64_t r = 0; r < rows; r++) {
    row(op, a + ao, ca[c - 1], b + bo, cb[c - 1], out + r * len, len);
    for (int d = c - 2; d >= 0; d--) {
      idx[d]++;
      ao += ca[d];
      bo += cb[d];
      if (idx[d] < dim[d]) break;
      ao -= ca[d] * idx[d];
      bo -= cb[d] * idx[d];
      idx[d] = 0;
    }
  }
}

// ---- sum_to -------------------------------------------------------------------------------------

void sum_to(const float* x, const int64_t* x_shape, int x_rank, float* out, const int64_t* out_shape,
            int out_rank) {
  const int64_t out_size = shape_numel(out_shape, out_rank);
  if (out_size <= 0) return;
  const int64_t size = shape_numel(x_shape, x_rank);
  if (size == 0) {
    for (int64_t i = 0; i < out_size; i++) out[i] = 0.0f;
    return;
  }
  if (size == out_size) {  // nothing is reduced: a copy
    if (out != x) std::memmove(out, x, static_cast<size_t>(size) * sizeof(float));
    return;
  }
  // Coalesce as in binary(): x is contiguous, out is seen through its broadcast strides. After
  // this the dims alternate between kept (out stride ≠ 0) and reduced (out stride 0).
  const int R = x_rank;
  Slots<16> so(R), dim(R), cs(R), cx(R);
  broadcast_strides(out_shape, out_rank, R, &so[0]);
  int c = 0;
  int64_t xs = 1;
  Slots<16> xstr(R);
  for (int d = R - 1; d >= 0; d--) {
    xstr[d] = xs;
    xs *= x_shape[d];
  }
  for (int d = 0; d < R; d++) {
    const int64_t n = x_shape[d];
    if (n == 1) continue;
    if (c > 0 && cs[c - 1] == so[d] * n && cx[c - 1] == xstr[d] * n) {
      dim[c - 1] *= n;
      cs[c - 1] = so[d];
      cx[c - 1] = xstr[d];
    } else {
      dim[c] = n;
      cs[c] = so[d];
      cx[c] = xstr[d];
      c++;
    }
  }
  // [kept?, reduced, kept?]: one strided reduction, accumulated in double inside reduce().
  if (c <= 3) {
    int first_red = -1, n_red = 0;
    for (int d = 0; d < c; d++)
      if (cs[d] == 0) {
        if (first_red < 0) first_red = d;
        n_red++;
      }
    if (n_red == 1) {
      int64_t outer = 1, inner = 1;
      for (int d = 0; d < first_red; d++) outer *= dim[d];
      for (int d = first_red + 1; d < c; d++) inner *= dim[d];
      reduce(ReduceOp::Sum, x, outer, dim[first_red], inner, out, nullptr);
      return;
    }
  }
  // General pattern (e.g. [R, K, R]): walk x row by row into a double accumulator, as sumTo does.
  const ReduceKernels& K = active_kernels().reduce;
  std::vector<double> acc(static_cast<size_t>(out_size), 0.0);
  const int64_t len = dim[c - 1];
  const int64_t rows = size / len;
  const bool last_reduced = cs[c - 1] == 0;
  Slots<16> idx(c);
  for (int d = 0; d < c; d++) idx[d] = 0;
  int64_t oo = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * len;
    if (last_reduced) {
      acc[oo] += K.sum_f64(xr, len);
    } else {
      K.accumulate_f64(acc.data() + oo, xr, len);
    }
    for (int d = c - 2; d >= 0; d--) {
      idx[d]++;
      oo += cs[d];
      if (idx[d] < dim[d]) break;
      oo -= cs[d] * idx[d];
      idx[d] = 0;
    }
  }
  for (int64_t i = 0; i < out_size; i++) out[i] = static_cast<float>(acc[i]);
}

// ---- unary ----------------------------------------------------------------------------------------

void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1, ThreadPool* pool) {
  if (n <= 0) return;
  const auto map = active_kernels().elementwise.unary;
  parallel_range(n, kElementChunk, kElementParallelMin, pool,
                 [&](int64_t i0, int64_t len) { map(op, x + i0, out + i0, len, p0, p1); });
}

void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1, ThreadPool* pool) {
  if (n <= 0) return;
  const auto grad = active_kernels().elementwise.unary_grad;
  // x and y may be null (the op does not read them): offset only the ones given.
  const auto at = [](const float* p, int64_t i) { return p ? p + i : nullptr; };
  parallel_range(n, kElementChunk, kElementParallelMin, pool, [&](int64_t i0, int64_t len) {
    grad(op, at(x, i0), at(y, i0), gy + i0, gx + i0, len, p0, p1);
  });
}

// ---- permute --------------------------------------------------------------------------------------

void permute(const float* x, const int64_t* shape, const int64_t* axes, int rank, float* out) {
  const int64_t size = shape_numel(shape, rank);
  if (size <= 0) return;
  Slots<16> in_stride(rank);
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    in_stride[i] = s;
    s *= shape[i];
  }
  // Output dims as (size, input stride); drop size-1 dims, merge neighbours that stay contiguous.
  Slots<16> dim(rank), st(rank);
  int c = 0;
  for (int k = 0; k < rank; k++) {
    const int64_t n = shape[axes[k]], is = in_stride[axes[k]];
    if (n == 1) continue;
    if (c > 0 && st[c - 1] == is * n) {
      dim[c - 1] *= n;
      st[c - 1] = is;
    } else {
      dim[c] = n;
      st[c] = is;
      c++;
    }
  }
  if (c <= 1) {  // the identity on memory
    std::memcpy(out, x, static_cast<size_t>(size) * sizeof(float));
    return;
  }
  const int last = c - 1;
  Slots<16> ostr(c);
  int64_t os = 1;
  for (int k = c - 1; k >= 0; k--) {
    ostr[k] = os;
    os *= dim[k];
  }
  Slots<16> idx(c);
  for (int k = 0; k < c; k++) idx[k] = 0;
  if (st[last] == 1) {
    // The innermost dim stays innermost: contiguous row copies.
    const int64_t len = dim[last];
    int64_t xo = 0;
    for (int64_t o = 0; o < size; o += len) {
      std::memcpy(out + o, x + xo, static_cast<size_t>(len) * sizeof(float));
      for (int k = last - 1; k >= 0; k--) {
        idx[k]++;
        xo += st[k];
        if (idx[k] < dim[k]) break;
        xo -= st[k] * idx[k];
        idx[k] = 0;
      }
    }
    return;
  }
  // The input's innermost dim (stride 1) lands at output dim q: each (q, last) slice is a 2-D
  // transpose — input rows along `last` with stride st[last], output rows along q with stride
  // ostr[q] — blocked for the cache; an odometer walks the other dims.
  int q = 0;
  for (int k = 0; k < c; k++)
    if (st[k] == 1) q = k;
  const auto tr = active_kernels().elementwise.transpose;
  const int64_t slice = dim[q] * dim[last];
  int64_t xo = 0, oo = 0;
  for (int64_t done = 0; done < size; done += slice) {
    // a = input viewed as [dim[last]] rows of [dim[q]] contiguous floats, b = output [dim[q]] rows.
    tr(x + xo, st[last], out + oo, ostr[q], dim[last], dim[q]);
    for (int k = last - 1; k >= 0; k--) {
      if (k == q) continue;
      idx[k]++;
      xo += st[k];
      oo += ostr[k];
      if (idx[k] < dim[k]) break;
      xo -= st[k] * idx[k];
      oo -= ostr[k] * idx[k];
      idx[k] = 0;
    }
  }
}

}  // namespace tg
