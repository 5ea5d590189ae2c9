// Elementwise kernels: shape handling (coalescing, odometers), the scalar paths, and dispatch to
// elementwise_avx2.cc. Compiled for the x86-64 baseline.
#include "kernels/elementwise.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu.h"
#include "kernels/parallel.h"
#include "kernels/reduce.h"

namespace tg {

#if TG_X86_KERNELS
// Implemented in elementwise_avx2.cc; call only when active_isa() >= Isa::Avx2.
namespace avx2 {
void binary_row(BinaryOp op, const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len);
void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1);
bool unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1);
void transpose(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols);
}  // namespace avx2
#endif

namespace {

inline bool use_avx2() { return TG_X86_KERNELS && active_isa() >= Isa::Avx2; }

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

// ---- binary, scalar path ----------------------------------------------------------------------

template <typename F>
inline void row_loop(const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len, F f) {
  if (as == 1 && bs == 1) {
    for (int64_t i = 0; i < len; i++) out[i] = f(a[i], b[i]);
  } else if (bs == 0) {
    const float y = b[0];
    for (int64_t i = 0; i < len; i++) out[i] = f(a[i * as], y);
  } else {  // as == 0
    const float x = a[0];
    for (int64_t i = 0; i < len; i++) out[i] = f(x, b[i * bs]);
  }
}

void binary_row_scalar(BinaryOp op, const float* a, int64_t as, const float* b, int64_t bs, float* out,
                       int64_t len) {
  switch (op) {
    case BinaryOp::Add: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x + y; }); return;
    case BinaryOp::Sub: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x - y; }); return;
    case BinaryOp::Mul: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x * y; }); return;
    case BinaryOp::Div: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x / y; }); return;
  }
}

// ---- unary, scalar path: double evaluation rounded once ---------------------------------------

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kGeluC = 0.044715;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;

inline double sigmoid_d(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// 0.5·x·(1 + tanh(u)) = x·sigmoid(2u): no cancellation on the negative tail.
inline double gelu_tanh_d(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  const double u2 = 2.0 * kSqrt2OverPi * (x + kGeluC * x * x * x);
  return x * sigmoid_d(u2);
}

inline double gelu_erf_d(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  return 0.5 * x * std::erfc(-x * kInvSqrt2);
}

inline double gelu_tanh_grad_d(double x) {
  if (std::isinf(x)) return x > 0 ? 1.0 : 0.0;
  const double u2 = 2.0 * kSqrt2OverPi * (x + kGeluC * x * x * x);
  const double s = sigmoid_d(u2), sc = sigmoid_d(-u2);
  // = 0.5(1+t) + 0.5x(1-t²)c(1+3Gx²) with t = tanh(u), 0.5(1+t) = s, 1-t² = 4·s·(1-s)
  return s + 2.0 * x * s * sc * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * x * x);
}

inline double gelu_erf_grad_d(double x) {
  if (std::isinf(x)) return x > 0 ? 1.0 : 0.0;
  return 0.5 * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
}

// (v > 0 ? 1.0 : p), selected on the bits: GCC turns the plain ternary into a branch, and random
// signs mispredict half the time (5 ns an element instead of 0.2).
inline double pos_or(float v, uint64_t one_bits, uint64_t p_bits) {
  const uint64_t m = 0 - static_cast<uint64_t>(v > 0.0f);
  const uint64_t b = (one_bits & m) | (p_bits & ~m);
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}
inline uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// The TS clamp compares float x with the double bounds. Against float thresholds the same tests
// read: x < lo ⇔ x < (smallest float ≥ lo), x > hi ⇔ x > (largest float ≤ hi).
inline float float_at_or_above(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = std::nextafter(f, __builtin_inff());
  return f;
}
inline float float_at_or_below(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) f = std::nextafter(f, -__builtin_inff());
  return f;
}

template <typename F>
inline void map_d(const float* x, float* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(f(static_cast<double>(x[i])));
}

void unary_scalar(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1) {
  switch (op) {
    case UnaryOp::Neg: for (int64_t i = 0; i < n; i++) out[i] = -x[i]; return;
    case UnaryOp::Abs: for (int64_t i = 0; i < n; i++) out[i] = std::fabs(x[i]); return;
    case UnaryOp::Sqrt: for (int64_t i = 0; i < n; i++) out[i] = std::sqrt(x[i]); return;
    case UnaryOp::Exp: map_d(x, out, n, [](double v) { return std::exp(v); }); return;
    case UnaryOp::Log: map_d(x, out, n, [](double v) { return std::log(v); }); return;
    case UnaryOp::Pow:
      if (p0 == 2.0) {
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * x[i];
      } else {
        map_d(x, out, n, [p0](double v) { return std::pow(v, p0); });
      }
      return;
    case UnaryOp::Clamp: {
      const float lo_t = float_at_or_above(p0), hi_t = float_at_or_below(p1);
      const float lo = static_cast<float>(p0), hi = static_cast<float>(p1);
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        out[i] = v < lo_t ? lo : v > hi_t ? hi : v;
      }
      return;
    }
    case UnaryOp::Relu:  // NaN and -0 pass through, as PyTorch's max(x, 0) and unary.ts
      for (int64_t i = 0; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i];
      return;
    case UnaryOp::LeakyRelu: {
      // v·(v > 0 ? 1 : slope) in double: the values of unary.ts (v·1 is exact), branch-free
      const uint64_t one = bits_of(1.0), slope = bits_of(p0);
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        out[i] = static_cast<float>(static_cast<double>(v) * pos_or(v, one, slope));
      }
      return;
    }
    case UnaryOp::Sigmoid: map_d(x, out, n, sigmoid_d); return;
    case UnaryOp::Tanh: map_d(x, out, n, [](double v) { return std::tanh(v); }); return;
    case UnaryOp::GeluTanh: map_d(x, out, n, gelu_tanh_d); return;
    case UnaryOp::GeluErf: map_d(x, out, n, gelu_erf_d); return;
    case UnaryOp::Erf: map_d(x, out, n, [](double v) { return std::erf(v); }); return;
  }
}

// gx = gy·f'(x), each expression exactly as unary.ts evaluates it (in double).
void unary_grad_scalar(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n,
                       double p0, double p1) {
  auto F = [](double v) { return static_cast<float>(v); };
  switch (op) {
    case UnaryOp::Neg: for (int64_t i = 0; i < n; i++) gx[i] = -gy[i]; return;
    case UnaryOp::Abs:
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i], g = gy[i];  // loads hoisted out of the selects: branch-free
        gx[i] = v > 0.0f ? g : v < 0.0f ? -g : 0.0f;
      }
      return;
    case UnaryOp::Sqrt:
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) / (2.0 * double(y[i])));
      return;
    case UnaryOp::Exp: for (int64_t i = 0; i < n; i++) gx[i] = gy[i] * y[i]; return;
    case UnaryOp::Log: for (int64_t i = 0; i < n; i++) gx[i] = gy[i] / x[i]; return;
    case UnaryOp::Pow:
      if (p0 == 2.0) {
        for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * 2.0 * double(x[i]));
      } else {
        for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * p0 * std::pow(double(x[i]), p0 - 1.0));
      }
      return;
    case UnaryOp::Clamp: {
      // PyTorch passes the gradient where lo <= x <= hi (boundaries included).
      const float lo_t = float_at_or_above(p0), hi_t = float_at_or_below(p1);
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i], g = gy[i];
        gx[i] = (v >= lo_t) & (v <= hi_t) ? g : 0.0f;
      }
      return;
    }
    case UnaryOp::Relu:  // passed through at NaN, as PyTorch's threshold_backward
      for (int64_t i = 0; i < n; i++) {
        const float g = gy[i];
        gx[i] = x[i] <= 0.0f ? 0.0f : g;
      }
      return;
    case UnaryOp::LeakyRelu: {
      const uint64_t one = bits_of(1.0), slope = bits_of(p0);
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * pos_or(x[i], one, slope));
      return;
    }
    case UnaryOp::Sigmoid:
      for (int64_t i = 0; i < n; i++) {
        const double s = y[i];
        gx[i] = F(double(gy[i]) * s * (1.0 - s));
      }
      return;
    case UnaryOp::Tanh:
      for (int64_t i = 0; i < n; i++) {
        const double t = y[i];
        gx[i] = F(double(gy[i]) * (1.0 - t * t));
      }
      return;
    case UnaryOp::GeluTanh:
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * gelu_tanh_grad_d(x[i]));
      return;
    case UnaryOp::GeluErf:
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * gelu_erf_grad_d(x[i]));
      return;
    case UnaryOp::Erf:
      for (int64_t i = 0; i < n; i++) {
        const double v = x[i];
        gx[i] = F(double(gy[i]) * kTwoOverSqrtPi * std::exp(-v * v));
      }
      return;
  }
  (void)p1;
}

void transpose_scalar(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols) {
  // b[c][r] = a[r][c], in 32x32 tiles so both sides stay in cache.
  constexpr int64_t T = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += T) {
    const int64_t r1 = r0 + T < rows ? r0 + T : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += T) {
      const int64_t c1 = c0 + T < cols ? c0 + T : cols;
      for (int64_t r = r0; r < r1; r++)
        for (int64_t c = c0; c < c1; c++) b[c * ldb + r] = a[r * lda + c];
    }
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
#if TG_X86_KERNELS
  auto row = use_avx2() ? avx2::binary_row : binary_row_scalar;
#else
  auto row = binary_row_scalar;
#endif
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
      acc[oo] += sum_f64(xr, len);
    } else {
      accumulate_f64(acc.data() + oo, xr, len);
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
  [[maybe_unused]] const bool avx = use_avx2();
  parallel_range(n, kElementChunk, kElementParallelMin, pool, [&](int64_t i0, int64_t len) {
#if TG_X86_KERNELS
    if (avx) return avx2::unary(op, x + i0, out + i0, len, p0, p1);
#endif
    unary_scalar(op, x + i0, out + i0, len, p0, p1);
  });
}

void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1, ThreadPool* pool) {
  if (n <= 0) return;
  [[maybe_unused]] const bool avx = use_avx2();
  // x and y may be null (the op does not read them): offset only the ones given.
  const auto at = [](const float* p, int64_t i) { return p ? p + i : nullptr; };
  parallel_range(n, kElementChunk, kElementParallelMin, pool, [&](int64_t i0, int64_t len) {
#if TG_X86_KERNELS
    if (avx && avx2::unary_grad(op, at(x, i0), at(y, i0), gy + i0, gx + i0, len, p0, p1)) return;
#endif
    unary_grad_scalar(op, at(x, i0), at(y, i0), gy + i0, gx + i0, len, p0, p1);
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
#if TG_X86_KERNELS
  auto tr = use_avx2() ? avx2::transpose : transpose_scalar;
#else
  auto tr = transpose_scalar;
#endif
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
