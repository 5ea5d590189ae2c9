// Throughput of the elementwise / reduction / softmax / fused kernels on 1e6 elements, scalar path
// vs AVX2 path, single thread. Prints Gelem/s and GB/s (bytes read + written by the kernel).
// Usage: bench_elementwise [seconds per measurement, default 0.25] [avx512: AVX2 vs AVX-512 instead]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "cpu.h"
#include "kernels/elementwise.h"
#include "kernels/fused.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace {

double g_budget = 0.25;

// Best time of one call, in seconds.
double time_it(const std::function<void()>& f) {
  using clk = std::chrono::steady_clock;
  f();  // warm-up
  double best = 1e30, spent = 0;
  int reps = 0;
  while (spent < g_budget || reps < 3) {
    const auto t0 = clk::now();
    f();
    const double dt = std::chrono::duration<double>(clk::now() - t0).count();
    if (dt < best) best = dt;
    spent += dt;
    reps++;
  }
  return best;
}

struct Row {
  const char* name;
  double elems;
  double bytes;
  std::function<void()> run;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_budget = std::atof(argv[1]);
  const int64_t N = 1000000, R = 1000, C = 1000;
  std::vector<float> x(N), y(N), z(N), g(N), out(N), arg(N), bias(C), col(R), m(N, 0.0f), v(N, 0.0f), p(N);
  std::vector<float> tgt(R);
  unsigned s = 12345;
  auto rnd = [&s]() {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>((s >> 8) * (1.0 / 16777216.0));
  };
  for (int64_t i = 0; i < N; i++) {
    x[i] = 8 * rnd() - 4;
    y[i] = 8 * rnd() - 4;
    g[i] = rnd() - 0.5f;
    p[i] = rnd();
  }
  for (int64_t i = 0; i < C; i++) bias[i] = rnd();
  for (int64_t i = 0; i < R; i++) {
    col[i] = rnd();
    tgt[i] = static_cast<float>(i % C);
  }
  const int64_t flat[] = {N}, rc[] = {R, C}, row[] = {C}, colv[] = {R, 1}, one_c[] = {1, C}, axes[] = {1, 0};
  tg::softmax(x.data(), R, C, 1, z.data(), false);  // a valid softmax output for the grad bench
  const double F = 4.0;  // bytes per float
  tg::AdamParams hp;
  hp.weight_decay = 0.01;
  hp.decoupled = true;
  int64_t step = 0;

  std::vector<Row> rows = {
      {"relu", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::Relu, x.data(), out.data(), N, 0, 0); }},
      {"leakyRelu", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::LeakyRelu, x.data(), out.data(), N, 0.01, 0); }},
      {"exp", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::Exp, x.data(), out.data(), N, 0, 0); }},
      {"log", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::Log, p.data(), out.data(), N, 0, 0); }},
      {"sigmoid", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::Sigmoid, x.data(), out.data(), N, 0, 0); }},
      {"tanh", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::Tanh, x.data(), out.data(), N, 0, 0); }},
      {"geluTanh", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::GeluTanh, x.data(), out.data(), N, 0, 0); }},
      {"geluErf", 1e6, 8e6, [&] { tg::unary(tg::UnaryOp::GeluErf, x.data(), out.data(), N, 0, 0); }},
      {"geluTanh grad", 1e6, 12e6,
       [&] { tg::unary_grad(tg::UnaryOp::GeluTanh, x.data(), nullptr, g.data(), out.data(), N, 0, 0); }},
      {"geluErf grad", 1e6, 12e6,
       [&] { tg::unary_grad(tg::UnaryOp::GeluErf, x.data(), nullptr, g.data(), out.data(), N, 0, 0); }},
      {"relu grad", 1e6, 12e6,
       [&] { tg::unary_grad(tg::UnaryOp::Relu, x.data(), nullptr, g.data(), out.data(), N, 0, 0); }},
      {"add same shape", 1e6, 12e6,
       [&] { tg::binary(tg::BinaryOp::Add, x.data(), flat, 1, y.data(), flat, 1, out.data(), flat, 1); }},
      {"add [R,C]+[C]", 1e6, 8e6 + C * F,
       [&] { tg::binary(tg::BinaryOp::Add, x.data(), rc, 2, bias.data(), row, 1, out.data(), rc, 2); }},
      {"mul [R,C]*[R,1]", 1e6, 8e6 + R * F,
       [&] { tg::binary(tg::BinaryOp::Mul, x.data(), rc, 2, col.data(), colv, 2, out.data(), rc, 2); }},
      {"sum_to [R,C]->[1,C]", 1e6, 4e6 + C * F,
       [&] { tg::sum_to(x.data(), rc, 2, out.data(), one_c, 2); }},
      {"sum rows [R,C]->[R]", 1e6, 4e6 + R * F,
       [&] { tg::reduce(tg::ReduceOp::Sum, x.data(), R, C, 1, out.data(), nullptr); }},
      {"max+arg rows", 1e6, 4e6 + 2 * R * F,
       [&] { tg::reduce(tg::ReduceOp::Max, x.data(), R, C, 1, out.data(), arg.data()); }},
      {"max+arg cols [C] of [R,C]", 1e6, 4e6 + 2 * C * F,
       [&] { tg::reduce(tg::ReduceOp::Max, x.data(), 1, R, C, out.data(), arg.data()); }},
      {"softmax rows", 1e6, 8e6, [&] { tg::softmax(x.data(), R, C, 1, out.data(), false); }},
      {"logSoftmax rows", 1e6, 8e6, [&] { tg::softmax(x.data(), R, C, 1, out.data(), true); }},
      {"softmax along dim 0", 1e6, 8e6, [&] { tg::softmax(x.data(), 1, R, C, out.data(), false); }},
      {"softmax grad rows", 1e6, 12e6,
       [&] { tg::softmax_grad(z.data(), g.data(), R, C, 1, out.data(), false); }},
      {"softmax-xent fwd+bwd", 1e6, 8e6 + 2 * R * F,
       [&] {
         tg::softmax_xent_index(x.data(), R, C, tgt.data(), -100, 0.1, 1.0 / R, nullptr, arg.data(), out.data());
       }},
      {"adamw step", 1e6, 28e6,
       [&] {
         hp.step = ++step;
         tg::adam_step(p.data(), g.data(), m.data(), v.data(), nullptr, N, hp);
       }},
      {"transpose [R,C]", 1e6, 8e6, [&] { tg::permute(x.data(), rc, axes, 2, out.data()); }},
  };

  const bool vs512 = argc > 2 && std::strcmp(argv[2], "avx512") == 0;
  const tg::Isa base = vs512 ? tg::Isa::Avx2 : tg::Isa::Scalar, simd = vs512 ? tg::Isa::Avx512 : tg::Isa::Avx2;
  const bool has_avx2 = tg::detect_isa() >= simd && tg::detect_isa() != tg::Isa::Neon;
  std::printf("single thread, 1e6 elements; detected ISA %s\n", tg::isa_name(tg::detect_isa()));
  std::printf("%-28s %13s Gelem/s GB/s %13s Gelem/s GB/s %8s\n", "kernel", tg::isa_name(base), tg::isa_name(simd),
              "speedup");
  for (const Row& r : rows) {
    tg::set_active_isa(base);
    const double ts = time_it(r.run);
    double ta = 0;
    if (has_avx2) {
      tg::set_active_isa(simd);
      ta = time_it(r.run);
    }
    std::printf("%-28s %9.3f %9.2f  ", r.name, r.elems / ts * 1e-9, r.bytes / ts * 1e-9);
    if (has_avx2) std::printf("%9.3f %9.2f  %7.1fx\n", r.elems / ta * 1e-9, r.bytes / ta * 1e-9, ts / ta);
    else std::printf("%20s\n", "n/a");
  }
  return 0;
}
