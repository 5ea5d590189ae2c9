// SGEMM benchmark: GFLOP/s (median of timed repetitions after warm-up) on square sizes and on the
// shapes of an MNIST MLP with batch 128 in each of the forms training uses. One JSON line per
// (threads, shape), the same fields as bench/numpy_gemm.py prints, which can run this binary
// interleaved with numpy and print a comparison table (see that script).
//
//   bench_gemm [--threads 1,2] [--reps 7] [--min-time 0.02] [--only SUBSTRING] [--isa scalar|avx2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu.h"
#include "huge_pages.h"
#include "kernels/gemm.h"
#include "threadpool.h"

namespace {

struct Shape {
  std::string name;
  std::string form;  // "NN", "NT", "TN"
  int64_t m, n, k;
};

// Kept in sync with bench/numpy_gemm.py. MLP layer (M, K, N) = batch x in x out: forward
// X[M,K]·Wᵀ (W stored [N,K]: NT) or X·W (W [K,N]: NN); weight gradient dW[N,K] = Gᵀ[N,M]·X[M,K]
// (TN); input gradient dX[M,K] = G[M,N]·W[N,K] (NN).
std::vector<Shape> shapes() {
  std::vector<Shape> v;
  for (int64_t s : {64, 128, 256, 512, 1024, 2048}) v.push_back({"sq" + std::to_string(s), "NN", s, s, s});
  const int64_t mlp[3][3] = {{128, 784, 512}, {128, 512, 256}, {128, 256, 10}};
  for (auto& l : mlp) {
    const int64_t M = l[0], K = l[1], N = l[2];
    const std::string tag = "mlp" + std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N);
    v.push_back({tag + "_fwd_nt", "NT", M, N, K});
    v.push_back({tag + "_fwd_nn", "NN", M, N, K});
    v.push_back({tag + "_wgrad_tn", "TN", N, K, M});
    v.push_back({tag + "_igrad_nn", "NN", M, K, N});
  }
  return v;
}

// Operand buffers with a fixed, representative placement: like malloc'd numpy arrays and the
// backing stores of JS Float32Arrays, 16 bytes past a 64-byte boundary, and at different offsets
// modulo 4 KiB from one another (same-offset placement makes loads of one alias stores to another).
// std::vector's placement depends on the allocator's state, which made results of small-k shapes
// swing by 30% between runs.
struct Buffers {
  float* a;
  float* b;
  float* c;
  void* base;
  Buffers(int64_t na, int64_t nb, int64_t nc) {
    auto up = [](int64_t bytes) { return (bytes + 4095) / 4096 * 4096; };
    const int64_t oa = 16, ob = 16 + 1024, oc = 16 + 2048;
    const int64_t sa = up(na * 4 + oa), sb = up(nb * 4 + ob), sc = up(nc * 4 + oc);
    base = std::aligned_alloc(4096, static_cast<size_t>(sa + sb + sc));
    if (!base) std::abort();
    char* p = static_cast<char*>(base);
    // Each operand of 2 MiB or more gets huge pages before its first write, as the library's own
    // fresh tensors do (src/shape.ts) and as numpy's arrays of 4 MiB or more do.
    tg::advise_huge_pages(p + oa, static_cast<size_t>(na * 4));
    tg::advise_huge_pages(p + sa + ob, static_cast<size_t>(nb * 4));
    tg::advise_huge_pages(p + sa + sb + oc, static_cast<size_t>(nc * 4));
    a = reinterpret_cast<float*>(p + oa);
    b = reinterpret_cast<float*>(p + sa + ob);
    c = reinterpret_cast<float*>(p + sa + sb + oc);
  }
  ~Buffers() { std::free(base); }
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads = {1, 2};
  int reps = 7;
  double min_time = 0.02;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") {
      threads.clear();
      std::string s = next();
      for (size_t p = 0; p < s.size();) {
        size_t q = s.find(',', p);
        if (q == std::string::npos) q = s.size();
        threads.push_back(std::max(1, std::atoi(s.substr(p, q - p).c_str())));
        p = q + 1;
      }
    } else if (a == "--reps") {
      reps = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--min-time") {
      min_time = std::atof(next().c_str());
    } else if (a == "--only") {
      only = next();
    } else if (a == "--isa") {
      std::string s = next();
      tg::set_active_isa(s == "scalar" ? tg::Isa::Scalar : s == "avx2" ? tg::Isa::Avx2 : tg::detect_isa());
    } else {
      std::fprintf(stderr, "usage: %s [--threads 1,2] [--reps N] [--min-time S] [--only SUBSTR] [--isa scalar|avx2]\n",
                   argv[0]);
      return 2;
    }
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int t : threads) {
    tg::ThreadPool pool(t);
    for (const Shape& s : shapes()) {
      if (!only.empty() && s.name.find(only) == std::string::npos) continue;
      const bool ta = s.form[0] == 'T', tb = s.form[1] == 'T';
      Buffers buf(s.m * s.k, s.k * s.n, s.m * s.n);
      for (int64_t i = 0; i < s.m * s.k; ++i) buf.a[i] = dist(rng);
      for (int64_t i = 0; i < s.k * s.n; ++i) buf.b[i] = dist(rng);
      std::fill(buf.c, buf.c + s.m * s.n, 0.0f);
      const int64_t lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
      auto call = [&] {
        tg::sgemm(ta, tb, s.m, s.n, s.k, 1.0f, buf.a, lda, buf.b, ldb, 0.0f, buf.c, s.n, nullptr, &pool);
      };
      double t0 = now();
      call();
      const double one = std::max(now() - t0, 1e-7);
      const int64_t inner = std::max<int64_t>(1, static_cast<int64_t>(min_time / one));
      for (int64_t i = 0; i < std::max<int64_t>(3, inner); ++i) call();  // warm-up
      std::vector<double> times;
      for (int r = 0; r < reps; ++r) {
        t0 = now();
        for (int64_t i = 0; i < inner; ++i) call();
        times.push_back((now() - t0) / double(inner));
      }
      std::sort(times.begin(), times.end());
      const double med = times[times.size() / 2];
      const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
      std::printf(
          "{\"impl\": \"native\", \"kernel\": \"%s\", \"threads\": %d, \"name\": \"%s\", \"form\": \"%s\", "
          "\"m\": %lld, \"n\": %lld, \"k\": %lld, \"median_us\": %.3f, \"gflops\": %.2f, \"best_gflops\": %.2f}\n",
          tg::sgemm_kernel_name(), t, s.name.c_str(), s.form.c_str(), static_cast<long long>(s.m),
          static_cast<long long>(s.n), static_cast<long long>(s.k), med * 1e6, flops / med / 1e9,
          flops / times[0] / 1e9);
      std::fflush(stdout);
    }
  }
  return 0;
}
