// The N-API layer: argument checks, then calls into kernels/. Nothing here computes.
//
// Every entry point validates its arguments (types, integer sizes, buffer lengths against the
// shapes it is given) and throws a JS error otherwise: no input from JS can crash the process.
// Buffers are used in place (zero copy); nothing allocates JS objects on the hot path.
// State lives in a per-environment Napi::Addon instance, so the addon loads in worker_threads.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cpu.h"
#include "huge_pages.h"
#include "kernels/elementwise.h"
#include "kernels/fingerprint.h"
#include "kernels/fused.h"
#include "kernels/gather.h"
#include "kernels/gemm.h"
#include "kernels/linear_backward.h"
#include "kernels/linear_chain.h"
#include "kernels/losses.h"
#include "kernels/random.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "threadpool.h"

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 40;

[[noreturn]] void fail(Napi::Env env, const std::string& fn, const std::string& what) {
  throw Napi::TypeError::New(env, "tensorgrad native " + fn + ": " + what);
}

// The arguments of one kernel call: a JS call's own arguments, or one command of a runAsync batch
// (an array [name, ...args]). The checks below read either the same way. Holds napi_values, so it
// lives only inside the N-API call that made it; nothing here allocates.
class Args {
 public:
  static constexpr size_t kMax = 30;  // linearChain: 5 + 3 per layer, 8 layers, packed weights
  explicit Args(const Napi::CallbackInfo& info) : env_(info.Env()), n_(info.Length()) {
    for (size_t i = 0; i < std::min(n_, kMax); i++) v_[i] = info[i];
  }
  // Elements first.. of a command array.
  Args(Napi::Env env, const Napi::Array& arr, uint32_t first) : env_(env), n_(arr.Length() > first ? arr.Length() - first : 0) {
    for (size_t i = 0; i < std::min(n_, kMax); i++) v_[i] = arr.Get(static_cast<uint32_t>(first + i));
  }
  size_t Length() const { return n_; }
  Napi::Env Env() const { return Napi::Env(env_); }
  Napi::Value operator[](size_t i) const { return i < std::min(n_, kMax) ? Napi::Value(env_, v_[i]) : Napi::Env(env_).Undefined(); }

 private:
  napi_env env_;
  size_t n_;
  napi_value v_[kMax] = {};
};

struct F32 {
  float* data;
  int64_t length;
};

// A Float32Array argument (or null when `nullable`), over an ArrayBuffer or a SharedArrayBuffer.
// A detached buffer reads as length 0 and is rejected by the length checks that follow.
// napi_get_typedarray_info is called directly: node-addon-api's TypedArray::ArrayBuffer() refuses
// a SharedArrayBuffer ("Invalid argument").
F32 f32(const Args& info, size_t i, const char* fn, const char* name, bool nullable = false) {
  // The N-API calls that report a wrong type themselves come first, each value's type asked only
  // when one fails: every kernel call passes these, and napi_typeof walks a chain of V8 type
  // tests (null is its last). A 1x1x1 gemm call through the addon, with the checks of
  // dim/num/flag below done the same way: 419 -> 345 ns (Intel VM, Node 20).
  const napi_env env = info.Env();
  const napi_value v = info[i];
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok) {
    napi_valuetype t = napi_undefined;
    if (nullable && napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined)) return {nullptr, -1};
    fail(info.Env(), fn, std::string(name) + " must be a Float32Array");
  }
  if (type != napi_float32_array) fail(info.Env(), fn, std::string(name) + " must be a Float32Array");
  if (length != 0 && data == nullptr) fail(info.Env(), fn, std::string(name) + " has no data");
  return {length == 0 ? nullptr : static_cast<float*>(data), static_cast<int64_t>(length)};
}

// A number argument: napi_get_value_double refuses anything else (napi_number_expected).
bool number_arg(const Args& info, size_t i, double* out) {
  return napi_get_value_double(info.Env(), info[i], out) == napi_ok;
}

int64_t dim(const Args& info, size_t i, const char* fn, const char* name) {
  double d = 0;
  if (!number_arg(info, i, &d)) fail(info.Env(), fn, std::string(name) + " must be a number");
  if (!(d >= 0) || d != std::floor(d) || d > static_cast<double>(kMaxDim)) {
    fail(info.Env(), fn, std::string(name) + " must be a non-negative integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

double num(const Args& info, size_t i, const char* fn, const char* name) {
  double d = 0;
  if (!number_arg(info, i, &d)) fail(info.Env(), fn, std::string(name) + " must be a number");
  return d;
}

bool flag(const Args& info, size_t i, const char* fn, const char* name) {
  bool b = false;
  if (napi_get_value_bool(info.Env(), info[i], &b) != napi_ok) fail(info.Env(), fn, std::string(name) + " must be a boolean");
  return b;
}

// Product of dims, refusing overflow.
int64_t product(Napi::Env env, const char* fn, std::initializer_list<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    if (d != 0 && p > kMaxDim / d) fail(env, fn, "sizes overflow");
    p *= d;
  }
  return p;
}

void expect_length(Napi::Env env, const char* fn, const char* name, const F32& a, int64_t want) {
  if (a.length != want) {
    fail(env, fn, std::string(name) + " has " + std::to_string(a.length) + " elements, expected " + std::to_string(want));
  }
}

void need_args(const Args& info, size_t n, const char* fn) {
  if (info.Length() < n) fail(info.Env(), fn, "expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
}


constexpr size_t kMaxRank = 64;  // PyTorch's limit; src/shape.ts MAX_DIMS refuses more first

// A shape argument: an array of non-negative integer dims (whose product must fit, unless `sized`
// is false: permute's axes are indices, and 20 of them multiply past any size limit).
std::vector<int64_t> shape_arg(const Args& info, size_t i, const char* fn, const char* name,
                               bool sized = true) {
  Napi::Value v = info[i];
  if (!v.IsArray()) fail(info.Env(), fn, std::string(name) + " must be an array of dims");
  auto arr = v.As<Napi::Array>();
  if (arr.Length() > kMaxRank) fail(info.Env(), fn, std::string(name) + " has more than 64 dims");
  std::vector<int64_t> out(arr.Length());
  int64_t total = 1;
  for (uint32_t j = 0; j < arr.Length(); j++) {
    Napi::Value d = arr.Get(j);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0) || x != std::floor(x) || x > static_cast<double>(kMaxDim)) {
      fail(info.Env(), fn, std::string(name) + " must hold non-negative integer dims");
    }
    out[j] = static_cast<int64_t>(x);
    if (!sized) continue;
    if (out[j] != 0 && total > kMaxDim / out[j]) fail(info.Env(), fn, std::string(name) + " is too large");
    total *= out[j];
  }
  return out;
}

int64_t numel(const std::vector<int64_t>& s) { return tg::shape_numel(s.data(), static_cast<int>(s.size())); }

std::string op_name(const Args& info, size_t i, const char* fn) {
  if (!info[i].IsString()) fail(info.Env(), fn, "op must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// True when two buffers share memory (kernels that must not write over their input check this).
bool overlaps(const F32& a, const F32& b) {
  if (a.data == nullptr || b.data == nullptr) return false;
  return a.data < b.data + b.length && b.data < a.data + a.length;
}

// The kernels that return nothing are checked and run in two steps: prepare_X validates the
// arguments (on the JS thread, where napi_values can be read) and returns the kernel call with
// every pointer and size captured by value; the synchronous entry point runs it at once, and
// runAsync queues a batch of them on a libuv thread.

// A weight packed by packWeight for an NT product with op(B) n×k, or null: argument i when given
// (optional). One packed for another shape or by another ISA's layout (setIsa since) is not used:
// the product packs B itself.
// Returns it with its length, or {nullptr, -1} when absent or not usable.
F32 packed_arg(const Args& info, size_t i, const char* fn, const char* name, int64_t n, int64_t k, const F32& out) {
  F32 pk = f32(info, i, fn, name, true);
  if (pk.length < 0) return pk;
  if (overlaps(pk, out)) fail(info.Env(), fn, std::string(name) + " must not overlap the output");
  if (!tg::packed_weight_fits(pk.data, pk.length, n, k)) return {nullptr, -1};
  return pk;
}

// gemm(transA, transB, m, n, k, alpha, a, b, beta, c, bias|null, relu[, packedB|null]): packedB
// (only with transB) is b packed by packWeight(n, k, b, ...).
auto prepare_gemm(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "gemm";
  Napi::Env env = info.Env();
  need_args(info, 12, fn);
  bool ta = flag(info, 0, fn, "transA");
  bool tb = flag(info, 1, fn, "transB");
  int64_t m = dim(info, 2, fn, "m"), n = dim(info, 3, fn, "n"), k = dim(info, 4, fn, "k");
  float alpha = static_cast<float>(num(info, 5, fn, "alpha"));
  F32 a = f32(info, 6, fn, "a"), b = f32(info, 7, fn, "b");
  float beta = static_cast<float>(num(info, 8, fn, "beta"));
  F32 c = f32(info, 9, fn, "c");
  F32 bias = f32(info, 10, fn, "bias", true);
  bool relu = flag(info, 11, fn, "relu");
  expect_length(env, fn, "a", a, product(env, fn, {m, k}));
  expect_length(env, fn, "b", b, product(env, fn, {k, n}));
  expect_length(env, fn, "c", c, product(env, fn, {m, n}));
  if (bias.length >= 0) expect_length(env, fn, "bias", bias, n);
  tg::GemmEpilogue ep;
  ep.bias = bias.length >= 0 ? bias.data : nullptr;
  ep.relu = relu;
  if (info.Length() > 12 && !info[12].IsNull() && !info[12].IsUndefined()) {
    if (!tb) fail(env, fn, "packedB is for products with transB only");
    const F32 pk = packed_arg(info, 12, fn, "packedB", n, k, c);
    ep.packed_b = pk.data;
    ep.packed_b_floats = pk.length < 0 ? 0 : pk.length;
  }
  const int64_t lda = std::max<int64_t>(1, ta ? m : k), ldb = std::max<int64_t>(1, tb ? k : n);
  return [=]() {
    tg::sgemm(ta, tb, m, n, k, alpha, a.data, lda, b.data, ldb, beta, c.data, std::max<int64_t>(1, n), &ep, pool);
  };
}

// linearBackward(rows, outF, inF, g, y|null, x|null, w|null, gy|null, gx|null, gw|null, gb|null):
// kernels/linear_backward.h. y (a ReLU layer's output) comes with gy, its pre-activation
// gradient's buffer; gx needs w, gw needs x.
auto prepare_linear_backward(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "linearBackward";
  Napi::Env env = info.Env();
  need_args(info, 11, fn);
  const int64_t rows = dim(info, 0, fn, "rows"), out_f = dim(info, 1, fn, "outF"), in_f = dim(info, 2, fn, "inF");
  F32 g = f32(info, 3, fn, "g");
  F32 y = f32(info, 4, fn, "y", true), x = f32(info, 5, fn, "x", true), w = f32(info, 6, fn, "w", true);
  F32 gy = f32(info, 7, fn, "gy", true), gx = f32(info, 8, fn, "gx", true), gw = f32(info, 9, fn, "gw", true);
  F32 gb = f32(info, 10, fn, "gb", true);
  const int64_t n_out = product(env, fn, {rows, out_f}), n_in = product(env, fn, {rows, in_f});
  const int64_t n_w = product(env, fn, {out_f, in_f});
  expect_length(env, fn, "g", g, n_out);
  if ((y.length >= 0) != (gy.length >= 0)) fail(env, fn, "y and gy come together (a ReLU layer) or not at all");
  if (y.length >= 0) {
    expect_length(env, fn, "y", y, n_out);
    expect_length(env, fn, "gy", gy, n_out);
  }
  if (gx.length >= 0) {
    if (w.length < 0) fail(env, fn, "gx needs w");
    expect_length(env, fn, "gx", gx, n_in);
  }
  if (gw.length >= 0) {
    if (x.length < 0) fail(env, fn, "gw needs x");
    expect_length(env, fn, "gw", gw, n_w);
  }
  if (w.length >= 0) expect_length(env, fn, "w", w, n_w);
  if (x.length >= 0) expect_length(env, fn, "x", x, n_in);
  if (gb.length >= 0) expect_length(env, fn, "gb", gb, out_f);
  const F32 outs[] = {gy, gx, gw, gb}, ins[] = {g, y, x, w};
  for (size_t i = 0; i < 4; i++) {
    for (size_t j = 0; j < 4; j++) {
      if (overlaps(outs[i], ins[j]) || (j > i && overlaps(outs[i], outs[j]))) {
        fail(env, fn, "gy, gx, gw and gb must not overlap each other or g, y, x, w");
      }
    }
  }
  auto data = [](const F32& a) { return a.length >= 0 ? a.data : nullptr; };
  return [=]() {
    tg::linear_backward(rows, out_f, in_f, g.data, data(y), data(x), data(w), data(gy), data(gx), data(gw), data(gb),
                        pool);
  };
}

// binary(op, a, aShape, b, bShape, out, outShape)
auto prepare_binary(const Args& info) {
  const char* fn = "binary";
  Napi::Env env = info.Env();
  need_args(info, 7, fn);
  tg::BinaryOp op;
  if (!tg::parse_binary_op(op_name(info, 0, fn).c_str(), &op)) fail(env, fn, "unknown op");
  F32 a = f32(info, 1, fn, "a");
  auto as = shape_arg(info, 2, fn, "aShape");
  F32 b = f32(info, 3, fn, "b");
  auto bs = shape_arg(info, 4, fn, "bShape");
  F32 out = f32(info, 5, fn, "out");
  auto os = shape_arg(info, 6, fn, "outShape");
  expect_length(env, fn, "a", a, numel(as));
  expect_length(env, fn, "b", b, numel(bs));
  expect_length(env, fn, "out", out, numel(os));
  const int orank = static_cast<int>(os.size());
  if (!tg::check_broadcast(as.data(), static_cast<int>(as.size()), os.data(), orank) ||
      !tg::check_broadcast(bs.data(), static_cast<int>(bs.size()), os.data(), orank)) {
    fail(env, fn, "aShape and bShape must broadcast to outShape");
  }
  return [=]() {
    tg::binary(op, a.data, as.data(), static_cast<int>(as.size()), b.data, bs.data(), static_cast<int>(bs.size()), out.data,
               os.data(), orank);
  };
}

// unary(op, x, out, p0, p1)
auto prepare_unary(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "unary";
  Napi::Env env = info.Env();
  need_args(info, 5, fn);
  tg::UnaryOp op;
  if (!tg::parse_unary_op(op_name(info, 0, fn).c_str(), &op)) fail(env, fn, "unknown op");
  F32 x = f32(info, 1, fn, "x"), out = f32(info, 2, fn, "out");
  double p0 = num(info, 3, fn, "p0"), p1 = num(info, 4, fn, "p1");
  expect_length(env, fn, "out", out, x.length);
  return [=]() {
    tg::unary(op, x.data, out.data, x.length, p0, p1, pool);
  };
}

// unaryGrad(op, x, y, gy, gx, p0, p1)
auto prepare_unary_grad(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "unaryGrad";
  Napi::Env env = info.Env();
  need_args(info, 7, fn);
  tg::UnaryOp op;
  if (!tg::parse_unary_op(op_name(info, 0, fn).c_str(), &op)) fail(env, fn, "unknown op");
  F32 x = f32(info, 1, fn, "x"), y = f32(info, 2, fn, "y"), gy = f32(info, 3, fn, "gy"), gx = f32(info, 4, fn, "gx");
  double p0 = num(info, 5, fn, "p0"), p1 = num(info, 6, fn, "p1");
  expect_length(env, fn, "y", y, x.length);
  expect_length(env, fn, "gy", gy, x.length);
  expect_length(env, fn, "gx", gx, x.length);
  return [=]() {
    tg::unary_grad(op, x.data, y.data, gy.data, gx.data, x.length, p0, p1, pool);
  };
}

// sumTo(x, xShape, out, outShape): outShape must broadcast to xShape
auto prepare_sum_to(const Args& info) {
  const char* fn = "sumTo";
  Napi::Env env = info.Env();
  need_args(info, 4, fn);
  F32 x = f32(info, 0, fn, "x");
  auto xs = shape_arg(info, 1, fn, "xShape");
  F32 out = f32(info, 2, fn, "out");
  auto os = shape_arg(info, 3, fn, "outShape");
  expect_length(env, fn, "x", x, numel(xs));
  expect_length(env, fn, "out", out, numel(os));
  if (!tg::check_broadcast(os.data(), static_cast<int>(os.size()), xs.data(), static_cast<int>(xs.size()))) {
    fail(env, fn, "outShape must broadcast to xShape");
  }
  if (overlaps(x, out)) fail(env, fn, "out must not overlap x");
  return [=]() {
    tg::sum_to(x.data, xs.data(), static_cast<int>(xs.size()), out.data, os.data(), static_cast<int>(os.size()));
  };
}

// reduce(op, x, outer, n, inner, out, arg|null)
auto prepare_reduce(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "reduce";
  Napi::Env env = info.Env();
  need_args(info, 7, fn);
  tg::ReduceOp op;
  if (!tg::parse_reduce_op(op_name(info, 0, fn).c_str(), &op)) fail(env, fn, "unknown op");
  F32 x = f32(info, 1, fn, "x");
  int64_t outer = dim(info, 2, fn, "outer"), n = dim(info, 3, fn, "n"), inner = dim(info, 4, fn, "inner");
  F32 out = f32(info, 5, fn, "out");
  F32 arg = f32(info, 6, fn, "arg", true);
  expect_length(env, fn, "x", x, product(env, fn, {outer, n, inner}));
  expect_length(env, fn, "out", out, product(env, fn, {outer, inner}));
  if (arg.length >= 0) expect_length(env, fn, "arg", arg, out.length);
  if (op != tg::ReduceOp::Sum && n == 0 && out.length > 0) fail(env, fn, "max/min of an empty dim");
  if (overlaps(x, out) || overlaps(x, arg) || overlaps(out, arg)) fail(env, fn, "x, out and arg must not overlap");
  return [=]() {
    tg::reduce(op, x.data, outer, n, inner, out.data, arg.length >= 0 ? arg.data : nullptr, pool);
  };
}

// softmax(x, outer, n, inner, out, log)
auto prepare_softmax(const Args& info) {
  const char* fn = "softmax";
  Napi::Env env = info.Env();
  need_args(info, 6, fn);
  F32 x = f32(info, 0, fn, "x");
  int64_t outer = dim(info, 1, fn, "outer"), n = dim(info, 2, fn, "n"), inner = dim(info, 3, fn, "inner");
  F32 out = f32(info, 4, fn, "out");
  bool log = flag(info, 5, fn, "log");
  expect_length(env, fn, "x", x, product(env, fn, {outer, n, inner}));
  expect_length(env, fn, "out", out, x.length);
  return [=]() {
    tg::softmax(x.data, outer, n, inner, out.data, log);
  };
}

// softmaxGrad(y, gy, outer, n, inner, gx, log)
auto prepare_softmax_grad(const Args& info) {
  const char* fn = "softmaxGrad";
  Napi::Env env = info.Env();
  need_args(info, 7, fn);
  F32 y = f32(info, 0, fn, "y"), gy = f32(info, 1, fn, "gy");
  int64_t outer = dim(info, 2, fn, "outer"), n = dim(info, 3, fn, "n"), inner = dim(info, 4, fn, "inner");
  F32 gx = f32(info, 5, fn, "gx");
  bool log = flag(info, 6, fn, "log");
  expect_length(env, fn, "y", y, product(env, fn, {outer, n, inner}));
  expect_length(env, fn, "gy", gy, y.length);
  expect_length(env, fn, "gx", gx, y.length);
  return [=]() {
    tg::softmax_grad(y.data, gy.data, outer, n, inner, gx.data, log);
  };
}

// permute(x, shape, axes, out)
auto prepare_permute(const Args& info) {
  const char* fn = "permute";
  Napi::Env env = info.Env();
  need_args(info, 4, fn);
  F32 x = f32(info, 0, fn, "x");
  auto shape = shape_arg(info, 1, fn, "shape");
  auto axes = shape_arg(info, 2, fn, "axes", false);
  F32 out = f32(info, 3, fn, "out");
  if (axes.size() != shape.size()) fail(env, fn, "axes must have one entry per dim");
  std::vector<bool> seen(shape.size(), false);
  for (int64_t a : axes) {
    if (a >= static_cast<int64_t>(shape.size()) || seen[a]) fail(env, fn, "axes must be a permutation of 0..rank-1");
    seen[a] = true;
  }
  expect_length(env, fn, "x", x, numel(shape));
  expect_length(env, fn, "out", out, x.length);
  if (overlaps(x, out)) fail(env, fn, "out must not overlap x");
  return [=]() {
    tg::permute(x.data, shape.data(), axes.data(), static_cast<int>(shape.size()), out.data);
  };
}

// Adam's hyper-parameters lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad from argument `at` on.
tg::AdamParams adam_params(const Args& info, size_t at, const char* fn) {
  tg::AdamParams hp;
  hp.lr = num(info, at, fn, "lr");
  hp.beta1 = num(info, at + 1, fn, "beta1");
  hp.beta2 = num(info, at + 2, fn, "beta2");
  hp.eps = num(info, at + 3, fn, "eps");
  hp.weight_decay = num(info, at + 4, fn, "weightDecay");
  hp.decoupled = flag(info, at + 5, fn, "decoupled");
  hp.amsgrad = flag(info, at + 6, fn, "amsgrad");
  return hp;
}

// adamStep(p, g, m, v, vmax|null, lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, step)
auto prepare_adam_step(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "adamStep";
  Napi::Env env = info.Env();
  need_args(info, 13, fn);
  F32 p = f32(info, 0, fn, "p"), g = f32(info, 1, fn, "g"), m = f32(info, 2, fn, "m"), v = f32(info, 3, fn, "v");
  F32 vmax = f32(info, 4, fn, "vmax", true);
  tg::AdamParams hp = adam_params(info, 5, fn);
  hp.step = dim(info, 12, fn, "step");
  if (hp.step < 1) fail(env, fn, "step must be at least 1");
  expect_length(env, fn, "g", g, p.length);
  expect_length(env, fn, "m", m, p.length);
  expect_length(env, fn, "v", v, p.length);
  if (hp.amsgrad) {
    if (vmax.length < 0) fail(env, fn, "amsgrad needs vmax");
    expect_length(env, fn, "vmax", vmax, p.length);
  }
  const F32 all[] = {p, g, m, v, vmax};
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++)
      if (overlaps(all[i], all[j])) fail(env, fn, "p, g, m, v and vmax must not overlap");
  return [=]() {
    tg::adam_step(p.data, g.data, m.data, v.data, hp.amsgrad ? vmax.data : nullptr, p.length, hp, pool);
  };
}

// adamSteps(lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, steps, p0, g0, m0, v0, [vmax0,]
// p1, g1, ...): adamStep over a whole parameter group in one call. steps is a Float64Array of the
// slots' step counts; each slot's buffers follow as the call's own arguments (4 per slot, 5 with
// amsgrad), which N-API hands over in one piece (arrays of arrays cost an element fetch each).
void adam_steps_call(const Napi::CallbackInfo& info, tg::ThreadPool* pool) {
  const char* fn = "adamSteps";
  Napi::Env env = info.Env();
  if (info.Length() < 8) fail(env, fn, "expected at least 8 arguments");
  const tg::AdamParams hp = adam_params(Args(info), 0, fn);
  napi_typedarray_type type = napi_int8_array;
  size_t count = 0;
  void* steps_data = nullptr;
  if (!info[7].IsTypedArray() ||
      napi_get_typedarray_info(env, info[7], &type, &count, &steps_data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array) {
    fail(env, fn, "steps must be a Float64Array");
  }
  const size_t per = hp.amsgrad ? 5 : 4;
  if (info.Length() != 8 + per * count) {
    fail(env, fn, "expected " + std::to_string(per) + " buffers for each of the " + std::to_string(count) +
                      " steps, got " + std::to_string(info.Length() - 8) + " arguments after them");
  }
  const double* steps = static_cast<const double*>(steps_data);
  static const char* const kNames[] = {"p", "g", "m", "v", "vmax"};
  // Every buffer as an interval of memory, to refuse in one sort any overlap that involves a
  // written buffer (p, m, v, vmax): two gradients may share memory, nothing else may.
  struct Span {
    const float* begin;
    const float* end;
    bool written;
  };
  std::vector<tg::AdamSlot> slots(count);
  std::vector<Span> spans;
  spans.reserve(count * per);
  for (size_t i = 0; i < count; i++) {
    F32 b[5] = {{nullptr, -1}, {nullptr, -1}, {nullptr, -1}, {nullptr, -1}, {nullptr, -1}};
    for (size_t j = 0; j < per; j++) {
      Napi::Value v = info[8 + per * i + j];
      size_t length = 0;
      void* data = nullptr;
      if (!v.IsTypedArray() || napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
          type != napi_float32_array || (length != 0 && data == nullptr)) {
        fail(env, fn, std::string(kNames[j]) + " of slot " + std::to_string(i) + " must be a Float32Array");
      }
      b[j] = {length == 0 ? nullptr : static_cast<float*>(data), static_cast<int64_t>(length)};
      if (b[j].length != b[0].length) {
        fail(env, fn, std::string(kNames[j]) + " of slot " + std::to_string(i) + " has " + std::to_string(b[j].length) +
                          " elements, p has " + std::to_string(b[0].length));
      }
      if (b[j].data != nullptr) spans.push_back({b[j].data, b[j].data + b[j].length, j != 1});
    }
    const double d = steps[i];
    if (!(d >= 1) || d != std::floor(d) || d > static_cast<double>(kMaxDim)) {
      fail(env, fn, "step of slot " + std::to_string(i) + " must be an integer of at least 1");
    }
    slots[i] = {b[0].data, b[1].data, b[2].data, b[3].data, b[4].data, b[0].length, static_cast<int64_t>(d)};
  }
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.begin < y.begin; });
  const float* end_any = nullptr;      // furthest end of the spans so far
  const float* end_written = nullptr;  // of the written ones
  for (const Span& sp : spans) {
    if (sp.begin < (sp.written ? end_any : end_written)) {
      fail(env, fn, "the parameters, gradients and states must not overlap (only gradients may share memory)");
    }
    end_any = std::max(end_any, sp.end);
    if (sp.written) end_written = std::max(end_written, sp.end);
  }
  tg::adam_steps(slots.data(), static_cast<int64_t>(count), hp, pool);
}

// Every pair of the non-null buffers in `all` must not share memory.
void no_overlaps(Napi::Env env, const char* fn, std::initializer_list<F32> all, const char* what) {
  for (auto i = all.begin(); i != all.end(); ++i)
    for (auto j = i + 1; j != all.end(); ++j)
      if (overlaps(*i, *j)) fail(env, fn, std::string(what) + " must not overlap");
}

// A typed-array argument of element type T other than Float32Array (the random-fill state, the
// statistics nllLoss returns), checked as f32() checks its arrays.
template <class T>
T* typed(const Args& info, size_t i, const char* fn, const char* name, napi_typedarray_type want, const char* type,
         size_t length) {
  Napi::Value v = info[i];
  napi_typedarray_type got = napi_int8_array;
  size_t len = 0;
  void* data = nullptr;
  if (!v.IsTypedArray() || napi_get_typedarray_info(info.Env(), v, &got, &len, &data, nullptr, nullptr) != napi_ok ||
      got != want) {
    fail(info.Env(), fn, std::string(name) + " must be a " + type);
  }
  if (len != length || data == nullptr) {
    fail(info.Env(), fn, std::string(name) + " must have " + std::to_string(length) + " elements, got " + std::to_string(len));
  }
  return static_cast<T*>(data);
}

// A typed array of element type T and any length (gather indices, max/min positions), checked as
// f32() checks its arrays.
template <class T>
struct Span {
  T* data;
  int64_t length;
};
template <class T>
Span<T> span(const Args& info, size_t i, const char* fn, const char* name, napi_typedarray_type want, const char* type) {
  Napi::Value v = info[i];
  napi_typedarray_type got = napi_int8_array;
  size_t len = 0;
  void* data = nullptr;
  if (!v.IsTypedArray() || napi_get_typedarray_info(info.Env(), v, &got, &len, &data, nullptr, nullptr) != napi_ok ||
      got != want) {
    fail(info.Env(), fn, std::string(name) + " must be a " + type);
  }
  if (len != 0 && data == nullptr) fail(info.Env(), fn, std::string(name) + " has no data");
  return {static_cast<T*>(data), static_cast<int64_t>(len)};
}

// rows = length / row for a buffer of `row`-element rows (row > 0).
int64_t rows_of(Napi::Env env, const char* fn, const char* name, const F32& a, int64_t row) {
  if (a.length % row != 0) {
    fail(env, fn, std::string(name) + " has " + std::to_string(a.length) + " elements, not a whole number of rows of " + std::to_string(row));
  }
  return a.length / row;
}

void check_indices(Napi::Env env, const char* fn, const Span<int32_t>& idx, int64_t rows) {
  const int64_t bad = tg::first_bad_index(idx.data, idx.length, rows);
  if (bad >= 0) {
    fail(env, fn, "idx[" + std::to_string(bad) + "] = " + std::to_string(idx.data[bad]) + " is outside [0, " + std::to_string(rows) + ")");
  }
}

// A block of `rows` rows of `width` elements `stride` apart must fit in a.
void check_block(Napi::Env env, const char* fn, const char* name, const F32& a, int64_t stride, int64_t rows, int64_t width) {
  if (rows == 0 || width == 0) return;
  if (stride < width) fail(env, fn, std::string(name) + "'s stride is smaller than the width");
  if ((rows - 1) > (kMaxDim - width) / std::max<int64_t>(stride, 1) || (rows - 1) * stride + width > a.length) {
    fail(env, fn, std::string(name) + " is too short for " + std::to_string(rows) + " rows of " + std::to_string(width) +
                      " elements " + std::to_string(stride) + " apart");
  }
}

double ignore_index(const Args& info, size_t i, const char* fn) {
  const double v = num(info, i, fn, "ignoreIndex");
  if (v != std::floor(v) || std::fabs(v) > 1e15) fail(info.Env(), fn, "ignoreIndex must be an integer in [-1e15, 1e15]");
  return v;
}

// posWeight (nullable) of 1 or `last` elements, broadcast along the last dim of n elements.
void check_pos_weight(Napi::Env env, const char* fn, const F32& pw, int64_t last, int64_t n) {
  if (pw.length < 0 || pw.length == 1) return;
  if (pw.length != last || (n > 0 && (last == 0 || n % last != 0))) {
    fail(env, fn, "posWeight must have 1 or last (" + std::to_string(last) + ") elements, dividing " + std::to_string(n));
  }
}

// sgdStep(p, g, buf|null, lr, momentum, dampening, weightDecay, nesterov, maximize, first)
auto prepare_sgd_step(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "sgdStep";
  Napi::Env env = info.Env();
  need_args(info, 10, fn);
  F32 p = f32(info, 0, fn, "p"), g = f32(info, 1, fn, "g"), buf = f32(info, 2, fn, "buf", true);
  tg::SgdParams hp;
  hp.lr = num(info, 3, fn, "lr");
  hp.momentum = num(info, 4, fn, "momentum");
  hp.dampening = num(info, 5, fn, "dampening");
  hp.weight_decay = num(info, 6, fn, "weightDecay");
  hp.nesterov = flag(info, 7, fn, "nesterov");
  hp.maximize = flag(info, 8, fn, "maximize");
  hp.first = flag(info, 9, fn, "first");
  expect_length(env, fn, "g", g, p.length);
  if (buf.length >= 0) expect_length(env, fn, "buf", buf, p.length);
  no_overlaps(env, fn, {p, g, buf}, "p, g and buf");
  return [=]() { tg::sgd_step(p.data, g.data, buf.length >= 0 ? buf.data : nullptr, p.length, hp, pool); };
}

// rmspropStep(p, g, sq, gradAvg|null, buf|null, lr, alpha, eps, weightDecay, momentum, maximize)
auto prepare_rmsprop_step(const Args& info, tg::ThreadPool* pool) {
  const char* fn = "rmspropStep";
  Napi::Env env = info.Env();
  need_args(info, 11, fn);
  F32 p = f32(info, 0, fn, "p"), g = f32(info, 1, fn, "g"), sq = f32(info, 2, fn, "sq");
  F32 ga = f32(info, 3, fn, "gradAvg", true), buf = f32(info, 4, fn, "buf", true);
  tg::RmspropParams hp;
  hp.lr = num(info, 5, fn, "lr");
  hp.alpha = num(info, 6, fn, "alpha");
  hp.eps = num(info, 7, fn, "eps");
  hp.weight_decay = num(info, 8, fn, "weightDecay");
  hp.momentum = num(info, 9, fn, "momentum");
  hp.maximize = flag(info, 10, fn, "maximize");
  expect_length(env, fn, "g", g, p.length);
  expect_length(env, fn, "sq", sq, p.length);
  if (ga.length >= 0) expect_length(env, fn, "gradAvg", ga, p.length);
  if (buf.length >= 0) expect_length(env, fn, "buf", buf, p.length);
  no_overlaps(env, fn, {p, g, sq, ga, buf}, "p, g, sq, gradAvg and buf");
  return [=]() {
    tg::rmsprop_step(p.data, g.data, sq.data, ga.length >= 0 ? ga.data : nullptr, buf.length >= 0 ? buf.data : nullptr,
                     p.length, hp, pool);
  };
}

// A batch of prepared kernel calls run in order on a libuv thread; settles a promise on the JS
// thread. The command array is held by a reference until then, so every buffer it names stays
// alive (the caller also keeps them private: see src/backend/deferred.ts).
class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, std::vector<std::function<void()>> steps, std::shared_ptr<tg::ThreadPool> pool,
              const Napi::Object& keep)
      : Napi::AsyncWorker(env, "tensorgrad.runAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        steps_(std::move(steps)),
        pool_(std::move(pool)),
        keep_(Napi::Persistent(keep)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      for (auto& step : steps_) step();
    } catch (const std::exception& e) {
      SetError(std::string("tensorgrad native runAsync: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<std::function<void()>> steps_;
  std::shared_ptr<tg::ThreadPool> pool_;
  Napi::ObjectReference keep_;
};

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) : pool_(std::make_shared<tg::ThreadPool>(tg::default_threads())) {
    DefineAddon(exports, {
                             InstanceMethod("info", &Addon::Info),
                             InstanceMethod("setNumThreads", &Addon::SetNumThreads),
                             InstanceMethod("setIsa", &Addon::SetIsa),
                             InstanceMethod("gemm", &Addon::Gemm),
                             InstanceMethod("binary", &Addon::Binary),
                             InstanceMethod("unary", &Addon::Unary),
                             InstanceMethod("unaryGrad", &Addon::UnaryGrad),
                             InstanceMethod("sumTo", &Addon::SumTo),
                             InstanceMethod("reduce", &Addon::Reduce),
                             InstanceMethod("softmax", &Addon::Softmax),
                             InstanceMethod("softmaxGrad", &Addon::SoftmaxGrad),
                             InstanceMethod("permute", &Addon::Permute),
                             InstanceMethod("crossEntropy", &Addon::CrossEntropy),
                             InstanceMethod("linearBackward", &Addon::LinearBackward),
                             InstanceMethod("linearChain", &Addon::LinearChain),
                             InstanceMethod("adamStep", &Addon::AdamStep),
                             InstanceMethod("adamSteps", &Addon::AdamSteps),
                             InstanceMethod("sgdStep", &Addon::SgdStep),
                             InstanceMethod("rmspropStep", &Addon::RmspropStep),
                             InstanceMethod("nllLoss", &Addon::NllLoss),
                             InstanceMethod("nllLossGrad", &Addon::NllLossGrad),
                             InstanceMethod("bceLoss", &Addon::BceLoss),
                             InstanceMethod("bceLossGrad", &Addon::BceLossGrad),
                             InstanceMethod("fillUniform", &Addon::FillUniform),
                             InstanceMethod("dropoutMask", &Addon::DropoutMask),
                             InstanceMethod("gatherRows", &Addon::GatherRows),
                             InstanceMethod("scatterAddRows", &Addon::ScatterAddRows),
                             InstanceMethod("copyBlocks", &Addon::CopyBlocks),
                             InstanceMethod("scatterArg", &Addon::ScatterArg),
                             InstanceMethod("shareEqual", &Addon::ShareEqual),
                             InstanceMethod("normPart", &Addon::NormPart),
                             InstanceMethod("fingerprint", &Addon::Fingerprint),
                             InstanceMethod("adviseHugePages", &Addon::AdviseHugePages),
                             InstanceMethod("alignPad", &Addon::AlignPad),
                             InstanceMethod("packedWeightSize", &Addon::PackedWeightSize),
                             InstanceMethod("packWeight", &Addon::PackWeight),
                             InstanceMethod("packedWeightMinRows", &Addon::PackedWeightMinRows),
                             InstanceMethod("releaseScratch", &Addon::ReleaseScratch),
                             InstanceMethod("runAsync", &Addon::RunAsync),
                         });
    (void)env;
  }

 private:
  // Shared with queued async work, so a batch still running when the environment is torn down
  // (a worker terminated mid-predict) keeps its pool alive until it ends.
  std::shared_ptr<tg::ThreadPool> pool_;
  // linearChain's activations between layers, kept between calls (warm, not freshly mapped).
  std::vector<float> chain_work_;

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("isa", tg::isa_name(tg::active_isa()));
    o.Set("detectedIsa", tg::isa_name(tg::detect_isa()));
    o.Set("threads", pool_->threads());
    return o;
  }

  Napi::Value SetNumThreads(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    need_args(info, 1, "setNumThreads");
    int64_t n = dim(info, 0, "setNumThreads", "n");
    if (n < 1 || n > 1024) fail(info.Env(), "setNumThreads", "n must be in [1, 1024]");
    pool_->set_threads(static_cast<int>(n));
    return info.Env().Undefined();
  }

  // Lowers (never raises past the CPU) the instruction set the kernels dispatch on; for tests.
  Napi::Value SetIsa(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    need_args(info, 1, "setIsa");
    if (!info[0].IsString()) fail(info.Env(), "setIsa", "isa must be a string");
    std::string s = info[0].As<Napi::String>().Utf8Value();
    if (s == "scalar") tg::set_active_isa(tg::Isa::Scalar);
    else if (s == "avx2") tg::set_active_isa(tg::Isa::Avx2);
    else if (s == "avx512") tg::set_active_isa(tg::Isa::Avx512);
    else if (s == "neon") tg::set_active_isa(tg::Isa::Neon);
    else if (s == "auto") tg::set_active_isa(tg::detect_isa());
    else fail(info.Env(), "setIsa", "isa must be 'scalar', 'avx2', 'avx512', 'neon' or 'auto', got '" + s + "'");
    return Napi::String::New(info.Env(), tg::isa_name(tg::active_isa()));
  }

  Napi::Value Gemm(const Napi::CallbackInfo& info) {
    prepare_gemm(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value Binary(const Napi::CallbackInfo& info) {
    prepare_binary(Args(info))();
    return info.Env().Undefined();
  }

  Napi::Value Unary(const Napi::CallbackInfo& info) {
    prepare_unary(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value UnaryGrad(const Napi::CallbackInfo& info) {
    prepare_unary_grad(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value SumTo(const Napi::CallbackInfo& info) {
    prepare_sum_to(Args(info))();
    return info.Env().Undefined();
  }

  Napi::Value Reduce(const Napi::CallbackInfo& info) {
    prepare_reduce(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value Softmax(const Napi::CallbackInfo& info) {
    prepare_softmax(Args(info))();
    return info.Env().Undefined();
  }

  Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info) {
    prepare_softmax_grad(Args(info))();
    return info.Env().Undefined();
  }

  Napi::Value Permute(const Napi::CallbackInfo& info) {
    prepare_permute(Args(info))();
    return info.Env().Undefined();
  }

  // crossEntropy(logits, rows, classes, targets, probs, labelSmoothing, ignoreIndex, scale,
  //              rowScale|null, rowLoss|null, dlogits|null) -> sum of row losses
  Napi::Value CrossEntropy(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "crossEntropy";
    Napi::Env env = info.Env();
    need_args(info, 11, fn);
    F32 logits = f32(info, 0, fn, "logits");
    int64_t rows = dim(info, 1, fn, "rows"), classes = dim(info, 2, fn, "classes");
    F32 targets = f32(info, 3, fn, "targets");
    bool probs = flag(info, 4, fn, "probs");
    double eps = num(info, 5, fn, "labelSmoothing");
    double ignore = num(info, 6, fn, "ignoreIndex");
    double scale = num(info, 7, fn, "scale");
    F32 row_scale = f32(info, 8, fn, "rowScale", true);
    F32 row_loss = f32(info, 9, fn, "rowLoss", true);
    F32 dlogits = f32(info, 10, fn, "dlogits", true);
    if (classes < 1) fail(env, fn, "classes must be at least 1");
    if (!(eps >= 0 && eps <= 1)) fail(env, fn, "labelSmoothing must be in [0, 1]");
    if (ignore != std::floor(ignore) || std::fabs(ignore) > 1e15) fail(env, fn, "ignoreIndex must be an integer");
    expect_length(env, fn, "logits", logits, product(env, fn, {rows, classes}));
    expect_length(env, fn, "targets", targets, probs ? logits.length : rows);
    if (row_scale.length >= 0) expect_length(env, fn, "rowScale", row_scale, rows);
    if (row_loss.length >= 0) expect_length(env, fn, "rowLoss", row_loss, rows);
    if (dlogits.length >= 0) expect_length(env, fn, "dlogits", dlogits, logits.length);
    // dlogits may be logits itself (in place), but no other pair may share memory.
    const bool in_place = dlogits.data == logits.data;
    if ((!in_place && overlaps(dlogits, logits)) || overlaps(dlogits, targets) || overlaps(row_loss, logits) ||
        overlaps(row_loss, dlogits) || overlaps(row_loss, targets) || overlaps(dlogits, row_scale)) {
      fail(env, fn, "outputs must not overlap the inputs (dlogits may be logits itself)");
    }
    double total;
    if (probs) {
      total = tg::softmax_xent_prob(logits.data, rows, classes, targets.data, eps, scale, row_scale.data,
                                    row_loss.length >= 0 ? row_loss.data : nullptr, dlogits.length >= 0 ? dlogits.data : nullptr);
    } else {
      for (int64_t r = 0; r < rows; r++) {
        const float t = targets.data[r];
        if (t == ignore) continue;
        if (!(t >= 0) || t != std::floor(t) || t >= static_cast<float>(classes)) {
          fail(env, fn, "target " + std::to_string(t) + " at row " + std::to_string(r) + " is not a class index in [0, " +
                            std::to_string(classes) + ")");
        }
      }
      total = tg::softmax_xent_index(logits.data, rows, classes, targets.data, static_cast<int64_t>(ignore), eps, scale,
                                     row_scale.data, row_loss.length >= 0 ? row_loss.data : nullptr,
                                     dlogits.length >= 0 ? dlogits.data : nullptr);
    }
    return Napi::Number::New(env, total);
  }

  // linearChain(rows, inF, x, out, reluMask, outF0, w0, b0|null, outF1, w1, b1|null, ...): 1 to 8
  // Linear layers forward in one call (kernels/linear_chain.h); bit i of reluMask puts a ReLU after
  // layer i. The activations between layers live in chain_work_, which only this (JS-thread,
  // synchronous) entry uses. Not a runAsync command: deferred batches record the layers one by one.
  Napi::Value LinearChain(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "linearChain";
    Napi::Env env = info.Env();
    need_args(info, 8, fn);
    const bool with_packed = (info.Length() - 5) % 3 == 1 && info[info.Length() - 1].IsArray();
    if (info.Length() > Args::kMax || ((info.Length() - 5) % 3 != 0 && !with_packed)) {
      fail(env, fn, "expected rows, inF, x, out, reluMask, 1 to 8 (outF, w, bias) triples and maybe an array of packed weights");
    }
    const int n_layers = static_cast<int>((info.Length() - 5) / 3);
    Napi::Array packed_list;
    if (with_packed) {
      packed_list = info[info.Length() - 1].As<Napi::Array>();
      if (packed_list.Length() != static_cast<uint32_t>(n_layers)) {
        fail(env, fn, "the packed weights must be an array with one entry (Float32Array or null) per layer");
      }
    }
    const int64_t rows = dim(info, 0, fn, "rows"), in_f = dim(info, 1, fn, "inF");
    F32 x = f32(info, 2, fn, "x"), out = f32(info, 3, fn, "out");
    const int64_t mask = dim(info, 4, fn, "reluMask");
    if (mask >= (int64_t(1) << n_layers)) fail(env, fn, "reluMask has bits past the last layer");
    expect_length(env, fn, "x", x, product(env, fn, {rows, in_f}));
    // Argument names per layer, so a call that passes its checks builds no strings.
    static const char* const kOutF[8] = {"outF of layer 0", "outF of layer 1", "outF of layer 2", "outF of layer 3",
                                         "outF of layer 4", "outF of layer 5", "outF of layer 6", "outF of layer 7"};
    static const char* const kW[8] = {"w of layer 0", "w of layer 1", "w of layer 2", "w of layer 3",
                                      "w of layer 4", "w of layer 5", "w of layer 6", "w of layer 7"};
    static const char* const kBias[8] = {"bias of layer 0", "bias of layer 1", "bias of layer 2", "bias of layer 3",
                                         "bias of layer 4", "bias of layer 5", "bias of layer 6", "bias of layer 7"};
    static const char* const kPacked[8] = {"packed weight of layer 0", "packed weight of layer 1",
                                           "packed weight of layer 2", "packed weight of layer 3",
                                           "packed weight of layer 4", "packed weight of layer 5",
                                           "packed weight of layer 6", "packed weight of layer 7"};
    tg::ChainLayer layers[8];
    int64_t k = in_f, widest = 0;
    for (int i = 0; i < n_layers; i++) {
      const size_t a = 5 + 3 * static_cast<size_t>(i);
      const int64_t out_f = dim(info, a, fn, kOutF[i]);
      // Every activation must have a size that fits, the inner ones too (their arrays are ours).
      product(env, fn, {rows, out_f});
      F32 w = f32(info, a + 1, fn, kW[i]), b = f32(info, a + 2, fn, kBias[i], true);
      expect_length(env, fn, kW[i], w, product(env, fn, {out_f, k}));
      if (b.length >= 0) expect_length(env, fn, kBias[i], b, out_f);
      if (overlaps(out, w) || overlaps(out, b)) fail(env, fn, "out must not overlap a weight or a bias");
      layers[i] = {out_f, w.data, b.length >= 0 ? b.data : nullptr, ((mask >> i) & 1) != 0};
      if (with_packed) {
        const Args one(env, packed_list, static_cast<uint32_t>(i));
        const F32 pk = packed_arg(one, 0, fn, kPacked[i], out_f, k, out);
        layers[i].packed = pk.data;
        layers[i].packed_floats = pk.length < 0 ? 0 : pk.length;
      }
      if (i + 1 < n_layers) widest = std::max(widest, out_f);
      k = out_f;
    }
    expect_length(env, fn, "out", out, product(env, fn, {rows, k}));
    if (overlaps(out, x)) fail(env, fn, "out must not overlap x");
    const int64_t need = product(env, fn, {2, rows, widest});  // = linear_chain_work, checked
    // Kept up to 16 MB (batch 256 of a 8192-wide layer); a larger one lives for this call only
    // (not zero-filled: every layer writes all of its output before the next reads it).
    constexpr int64_t kKeep = int64_t(4) << 20;
    std::unique_ptr<float[]> once;
    float* work;
    if (need <= kKeep) {
      if (static_cast<int64_t>(chain_work_.size()) < need) {
        try {
          chain_work_.resize(static_cast<size_t>(need));
        } catch (const std::bad_alloc&) {
          fail(env, fn, "cannot allocate " + std::to_string(need) + " floats between layers");
        }
      }
      work = chain_work_.data();
    } else {
      once.reset(new (std::nothrow) float[static_cast<size_t>(need)]);
      if (!once) fail(env, fn, "cannot allocate " + std::to_string(need) + " floats between layers");
      work = once.get();
    }
    tg::linear_chain(rows, in_f, x.data, n_layers, layers, out.data, work, pool_.get());
    return env.Undefined();
  }

  Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
    prepare_linear_backward(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value AdamStep(const Napi::CallbackInfo& info) {
    prepare_adam_step(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value AdamSteps(const Napi::CallbackInfo& info) {
    adam_steps_call(info, pool_.get());
    return info.Env().Undefined();
  }

  Napi::Value SgdStep(const Napi::CallbackInfo& info) {
    prepare_sgd_step(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  Napi::Value RmspropStep(const Napi::CallbackInfo& info) {
    prepare_rmsprop_step(Args(info), pool_.get())();
    return info.Env().Undefined();
  }

  // nllLoss(logp, rows, classes, target, ignoreIndex, loss, stats: Float64Array(2)) -> -1 or the
  // first row with a bad target: see kernels/losses.h.
  Napi::Value NllLoss(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "nllLoss";
    Napi::Env env = info.Env();
    need_args(info, 7, fn);
    F32 logp = f32(info, 0, fn, "logp");
    const int64_t rows = dim(info, 1, fn, "rows"), classes = dim(info, 2, fn, "classes");
    F32 target = f32(info, 3, fn, "target");
    const double ignore = ignore_index(info, 4, fn);
    F32 loss = f32(info, 5, fn, "loss");
    double* stats = typed<double>(info, 6, fn, "stats", napi_float64_array, "Float64Array", 2);
    expect_length(env, fn, "logp", logp, product(env, fn, {rows, classes}));
    expect_length(env, fn, "target", target, rows);
    expect_length(env, fn, "loss", loss, rows);
    no_overlaps(env, fn, {logp, target, loss}, "logp, target and loss");
    return Napi::Number::New(env, static_cast<double>(tg::nll_loss(logp.data, rows, classes, target.data, ignore, loss.data, stats)));
  }

  // nllLossGrad(rows, classes, target, ignoreIndex, g|null, gScalar, gx)
  Napi::Value NllLossGrad(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "nllLossGrad";
    Napi::Env env = info.Env();
    need_args(info, 7, fn);
    const int64_t rows = dim(info, 0, fn, "rows"), classes = dim(info, 1, fn, "classes");
    F32 target = f32(info, 2, fn, "target");
    const double ignore = ignore_index(info, 3, fn);
    F32 g = f32(info, 4, fn, "g", true);
    const double g_scalar = num(info, 5, fn, "gScalar");
    F32 gx = f32(info, 6, fn, "gx");
    expect_length(env, fn, "target", target, rows);
    if (g.length >= 0) expect_length(env, fn, "g", g, rows);
    expect_length(env, fn, "gx", gx, product(env, fn, {rows, classes}));
    no_overlaps(env, fn, {target, g, gx}, "target, g and gx");
    tg::nll_loss_grad(rows, classes, target.data, ignore, g.length >= 0 ? g.data : nullptr, g_scalar, gx.data);
    return env.Undefined();
  }

  // bceLoss(logits, x, y, posWeight|null, last, loss) -> -1 or the first bad probability's index
  Napi::Value BceLoss(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "bceLoss";
    Napi::Env env = info.Env();
    need_args(info, 6, fn);
    const bool logits = flag(info, 0, fn, "logits");
    F32 x = f32(info, 1, fn, "x"), y = f32(info, 2, fn, "y"), pw = f32(info, 3, fn, "posWeight", true);
    const int64_t last = dim(info, 4, fn, "last");
    F32 loss = f32(info, 5, fn, "loss");
    expect_length(env, fn, "y", y, x.length);
    expect_length(env, fn, "loss", loss, x.length);
    check_pos_weight(env, fn, pw, last, x.length);
    no_overlaps(env, fn, {x, y, pw, loss}, "x, y, posWeight and loss");
    const int64_t bad = tg::bce_loss(logits, x.data, y.data, x.length, pw.length >= 0 ? pw.data : nullptr, pw.length, last, loss.data);
    return Napi::Number::New(env, static_cast<double>(bad));
  }

  // bceLossGrad(logits, x, y, posWeight|null, last, g, gx|null, gy|null)
  Napi::Value BceLossGrad(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "bceLossGrad";
    Napi::Env env = info.Env();
    need_args(info, 8, fn);
    const bool logits = flag(info, 0, fn, "logits");
    F32 x = f32(info, 1, fn, "x"), y = f32(info, 2, fn, "y"), pw = f32(info, 3, fn, "posWeight", true);
    const int64_t last = dim(info, 4, fn, "last");
    F32 g = f32(info, 5, fn, "g"), gx = f32(info, 6, fn, "gx", true), gy = f32(info, 7, fn, "gy", true);
    expect_length(env, fn, "y", y, x.length);
    expect_length(env, fn, "g", g, x.length);
    if (gx.length >= 0) expect_length(env, fn, "gx", gx, x.length);
    if (gy.length >= 0) expect_length(env, fn, "gy", gy, x.length);
    check_pos_weight(env, fn, pw, last, x.length);
    no_overlaps(env, fn, {x, y, pw, g, gx, gy}, "x, y, posWeight, g, gx and gy");
    tg::bce_loss_grad(logits, x.data, y.data, x.length, pw.length >= 0 ? pw.data : nullptr, pw.length, last, g.data,
                      gx.length >= 0 ? gx.data : nullptr, gy.length >= 0 ? gy.data : nullptr);
    return env.Undefined();
  }

  // fillUniform(state: Uint32Array(4), lo, hi, out): see kernels/random.h.
  Napi::Value FillUniform(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "fillUniform";
    need_args(info, 4, fn);
    uint32_t* state = typed<uint32_t>(info, 0, fn, "state", napi_uint32_array, "Uint32Array", 4);
    const double lo = num(info, 1, fn, "lo"), hi = num(info, 2, fn, "hi");
    F32 out = f32(info, 3, fn, "out");
    tg::fill_uniform(state, lo, hi, out.data, out.length);
    return info.Env().Undefined();
  }

  // dropoutMask(state: Uint32Array(4), keep, scale, out): see kernels/random.h.
  Napi::Value DropoutMask(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "dropoutMask";
    need_args(info, 4, fn);
    uint32_t* state = typed<uint32_t>(info, 0, fn, "state", napi_uint32_array, "Uint32Array", 4);
    const double keep = num(info, 1, fn, "keep"), scale = num(info, 2, fn, "scale");
    F32 out = f32(info, 3, fn, "out");
    tg::dropout_mask(state, keep, static_cast<float>(scale), out.data, out.length);
    return info.Env().Undefined();
  }

  // gatherRows(x, row, idx: Int32Array, out) and scatterAddRows(g, row, idx: Int32Array, gx): see
  // kernels/gather.h. Both take a packed side of idx.length rows (out, g) and a table side whose
  // rows idx picks (x, gx), and differ only in which argument is which and the direction.
  Napi::Value GatherRows(const Napi::CallbackInfo& cb) { return RowsByIndex(cb, "gatherRows", true); }
  Napi::Value ScatterAddRows(const Napi::CallbackInfo& cb) { return RowsByIndex(cb, "scatterAddRows", false); }

  Napi::Value RowsByIndex(const Napi::CallbackInfo& cb, const char* fn, bool gather) {
    const Args info(cb);
    Napi::Env env = info.Env();
    need_args(info, 4, fn);
    const char* table_name = gather ? "x" : "gx";
    const char* packed_name = gather ? "out" : "g";
    F32 first = f32(info, 0, fn, gather ? table_name : packed_name);
    const int64_t row = dim(info, 1, fn, "row");
    Span<int32_t> idx = span<int32_t>(info, 2, fn, "idx", napi_int32_array, "Int32Array");
    F32 last = f32(info, 3, fn, gather ? packed_name : table_name);
    const F32& table = gather ? first : last;
    const F32& packed = gather ? last : first;
    expect_length(env, fn, packed_name, packed, product(env, fn, {idx.length, row}));
    if (row == 0) return env.Undefined();
    check_indices(env, fn, idx, rows_of(env, fn, table_name, table, row));
    no_overlaps(env, fn, {first, last}, gather ? "x and out" : "g and gx");
    if (gather) tg::gather_rows(table.data, row, idx.data, idx.length, packed.data);
    else tg::scatter_add_rows(packed.data, row, idx.data, idx.length, table.data);
    return env.Undefined();
  }

  // copyBlocks(src, srcStride, dst, dstStride, rows, width): see kernels/gather.h.
  Napi::Value CopyBlocks(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "copyBlocks";
    Napi::Env env = info.Env();
    need_args(info, 6, fn);
    F32 src = f32(info, 0, fn, "src");
    const int64_t src_stride = dim(info, 1, fn, "srcStride");
    F32 dst = f32(info, 2, fn, "dst");
    const int64_t dst_stride = dim(info, 3, fn, "dstStride");
    const int64_t rows = dim(info, 4, fn, "rows"), width = dim(info, 5, fn, "width");
    check_block(env, fn, "src", src, src_stride, rows, width);
    check_block(env, fn, "dst", dst, dst_stride, rows, width);
    if (rows == 0 || width == 0) return env.Undefined();
    no_overlaps(env, fn, {src, dst}, "src and dst");
    tg::copy_blocks(src.data, src_stride, dst.data, dst_stride, rows, width);
    return env.Undefined();
  }

  // scatterArg(g, arg: Float64Array, outer, n, inner, gx): see kernels/gather.h.
  Napi::Value ScatterArg(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "scatterArg";
    Napi::Env env = info.Env();
    need_args(info, 6, fn);
    F32 g = f32(info, 0, fn, "g");
    Span<double> arg = span<double>(info, 1, fn, "arg", napi_float64_array, "Float64Array");
    const int64_t outer = dim(info, 2, fn, "outer"), n = dim(info, 3, fn, "n"), inner = dim(info, 4, fn, "inner");
    F32 gx = f32(info, 5, fn, "gx");
    const int64_t rows = product(env, fn, {outer, inner});
    expect_length(env, fn, "g", g, rows);
    if (arg.length != rows) fail(env, fn, "arg has " + std::to_string(arg.length) + " elements, expected " + std::to_string(rows));
    expect_length(env, fn, "gx", gx, product(env, fn, {outer, n, inner}));
    const int64_t bad = tg::first_bad_arg(arg.data, arg.length, n);
    if (bad >= 0) fail(env, fn, "arg[" + std::to_string(bad) + "] is not an integer in [0, " + std::to_string(n) + ")");
    no_overlaps(env, fn, {g, gx}, "g and gx");
    tg::scatter_arg(g.data, arg.data, outer, n, inner, gx.data);
    return env.Undefined();
  }

  // shareEqual(x, v, total, gx) -> count: see kernels/gather.h.
  Napi::Value ShareEqual(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "shareEqual";
    Napi::Env env = info.Env();
    need_args(info, 4, fn);
    F32 x = f32(info, 0, fn, "x");
    const double v = num(info, 1, fn, "v"), total = num(info, 2, fn, "total");
    F32 gx = f32(info, 3, fn, "gx");
    expect_length(env, fn, "gx", gx, x.length);
    no_overlaps(env, fn, {x, gx}, "x and gx");
    const int64_t count = tg::share_equal(x.data, x.length, static_cast<float>(v), total, gx.data);
    return Napi::Number::New(env, static_cast<double>(count));
  }

  // normPart(x, ord) -> number: see kernels/gather.h.
  Napi::Value NormPart(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "normPart";
    need_args(info, 2, fn);
    F32 x = f32(info, 0, fn, "x");
    const double ord = num(info, 1, fn, "ord");
    if (!(ord > 0)) fail(info.Env(), fn, "ord must be a positive number or Infinity");
    return Napi::Number::New(info.Env(), tg::norm_part(x.data, x.length, ord));
  }

  // fingerprint(x) -> uint32: see kernels/fingerprint.h.
  Napi::Value Fingerprint(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "fingerprint";
    need_args(info, 1, fn);
    F32 x = f32(info, 0, fn, "x");
    return Napi::Number::New(info.Env(), static_cast<double>(tg::fingerprint(x.data, x.length)));
  }

  // alignPad(buffer) -> bytes from the start of an ArrayBuffer's memory to its first 64-byte
  // boundary (0-63; 0 for an empty buffer). allocFloat32 views a slightly larger buffer from there,
  // so that a row of 16 floats never straddles two cache lines (see src/shape.ts).
  Napi::Value AlignPad(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "alignPad";
    need_args(info, 1, fn);
    Napi::Value v = info[0];
    if (!v.IsArrayBuffer()) fail(info.Env(), fn, "buffer must be an ArrayBuffer");
    const auto addr = reinterpret_cast<uintptr_t>(v.As<Napi::ArrayBuffer>().Data());
    return Napi::Number::New(info.Env(), static_cast<double>((64 - addr % 64) % 64));
  }

  // packedWeightSize(n, k) -> floats packWeight writes for a weight [n, k] at the active ISA.
  Napi::Value PackedWeightSize(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "packedWeightSize";
    need_args(info, 2, fn);
    const int64_t n = dim(info, 0, fn, "n"), k = dim(info, 1, fn, "k");
    product(info.Env(), fn, {n, k});
    return Napi::Number::New(info.Env(), static_cast<double>(tg::packed_weight_floats(n, k)));
  }

  // packWeight(n, k, w, dst): w [n, k] (a Linear weight) packed into dst (packedWeightSize(n, k)
  // floats) for gemm's and linearChain's packed arguments (kernels/gemm.h: pack_weight).
  Napi::Value PackWeight(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "packWeight";
    Napi::Env env = info.Env();
    need_args(info, 4, fn);
    const int64_t n = dim(info, 0, fn, "n"), k = dim(info, 1, fn, "k");
    F32 w = f32(info, 2, fn, "w"), dst = f32(info, 3, fn, "dst");
    expect_length(env, fn, "w", w, product(env, fn, {n, k}));
    expect_length(env, fn, "dst", dst, tg::packed_weight_floats(n, k));
    if (overlaps(w, dst)) fail(env, fn, "dst must not overlap w");
    tg::pack_weight(n, k, w.data, dst.data);
    return env.Undefined();
  }

  // packedWeightMinRows() -> the fewest rows of a product that read a packed weight at the active
  // ISA (fewer go through dot products over the weight itself).
  Napi::Value PackedWeightMinRows(const Napi::CallbackInfo& cb) {
    return Napi::Number::New(cb.Env(), static_cast<double>(tg::packed_weight_min_rows()));
  }

  // adviseHugePages(a) -> bytes of `a` now advised to be backed by transparent huge pages (see
  // huge_pages.h); 0 when no whole 2 MiB page lies inside it or the system has no such pages.
  Napi::Value AdviseHugePages(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    const char* fn = "adviseHugePages";
    need_args(info, 1, fn);
    F32 a = f32(info, 0, fn, "a");
    const size_t bytes = a.data ? tg::advise_huge_pages(a.data, static_cast<size_t>(a.length) * sizeof(float)) : 0;
    return Napi::Number::New(info.Env(), static_cast<double>(bytes));
  }

  // releaseScratch() -> bytes freed: linearChain's activations between layers (kept up to 16 MB)
  // and this thread's GEMM packing buffers, which are otherwise kept for the next call. Called on
  // the JS thread, where neither is in use between calls; pool threads and async batches keep
  // their own GEMM buffers (a few MiB each at most).
  Napi::Value ReleaseScratch(const Napi::CallbackInfo& cb) {
    const Args info(cb);
    size_t bytes = chain_work_.capacity() * sizeof(float);
    std::vector<float>().swap(chain_work_);
    bytes += tg::release_gemm_scratch();
    return Napi::Number::New(info.Env(), static_cast<double>(bytes));
  }

  // runAsync(commands) -> Promise<void>: commands is an array of [kernel, ...arguments] with the
  // same arguments as the synchronous entry point of that name (gemm, binary, unary, unaryGrad,
  // sumTo, reduce, softmax, softmaxGrad, permute, linearBackward, adamStep). Every command is checked here, before
  // anything runs; then they run in order off the JS thread.
  Napi::Value RunAsync(const Napi::CallbackInfo& info) {
    const char* fn = "runAsync";
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) fail(env, fn, "expected an array of commands");
    Napi::Array cmds = info[0].As<Napi::Array>();
    std::vector<std::function<void()>> steps;
    steps.reserve(cmds.Length());
    for (uint32_t j = 0; j < cmds.Length(); j++) {
      Napi::Value c = cmds.Get(j);
      if (!c.IsArray() || c.As<Napi::Array>().Length() < 1 || !c.As<Napi::Array>().Get(0u).IsString()) {
        fail(env, fn, "command " + std::to_string(j) + " must be an array [kernel name, ...arguments]");
      }
      Napi::Array cmd = c.As<Napi::Array>();
      const std::string name = cmd.Get(0u).As<Napi::String>().Utf8Value();
      const Args a(env, cmd, 1);
      if (name == "gemm") steps.emplace_back(prepare_gemm(a, pool_.get()));
      else if (name == "binary") steps.emplace_back(prepare_binary(a));
      else if (name == "unary") steps.emplace_back(prepare_unary(a, pool_.get()));
      else if (name == "unaryGrad") steps.emplace_back(prepare_unary_grad(a, pool_.get()));
      else if (name == "sumTo") steps.emplace_back(prepare_sum_to(a));
      else if (name == "reduce") steps.emplace_back(prepare_reduce(a, pool_.get()));
      else if (name == "softmax") steps.emplace_back(prepare_softmax(a));
      else if (name == "softmaxGrad") steps.emplace_back(prepare_softmax_grad(a));
      else if (name == "permute") steps.emplace_back(prepare_permute(a));
      else if (name == "linearBackward") steps.emplace_back(prepare_linear_backward(a, pool_.get()));
      else if (name == "adamStep") steps.emplace_back(prepare_adam_step(a, pool_.get()));
      else if (name == "sgdStep") steps.emplace_back(prepare_sgd_step(a, pool_.get()));
      else if (name == "rmspropStep") steps.emplace_back(prepare_rmsprop_step(a, pool_.get()));
      else fail(env, fn, "command " + std::to_string(j) + ": unknown kernel '" + name + "'");
    }
    auto* worker = new BatchWorker(env, std::move(steps), pool_, cmds);
    worker->Queue();
    return worker->Promise();
  }
};

}  // namespace

NODE_API_ADDON(Addon)
