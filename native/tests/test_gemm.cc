// Tests of tg::sgemm and tg::ThreadPool (plain main, no framework). Exits non-zero on failure;
// the last line is "N passed, N failed".
//
//  - every transpose combination, against a double-precision reference, on shapes with 1, 7, 17,
//    255 and 1000 in every dimension; alpha/beta variants (beta 0 with NaN-filled C, beta 1,
//    others); leading dimensions larger than minimal (the padding is NaN in A and B and a sentinel
//    in C, which must stay untouched); the fused epilogue (bias, relu, both); 1 and 2 threads; the
//    scalar and the AVX2 kernels (forced with tg::set_active_isa)
//  - bitwise equality of C for 1, 2 and 3 threads on shapes that split
//  - m, n or k = 0 and alpha = 0
//  - the thread pool: every task once, worker ids, concurrent callers, nesting, resizing
//  - linear_chain: bitwise the layers run one by one through sgemm, on 1 and 3 threads
//  - the split tuner's policy on synthetic times, and sgemm's results over the calls of a shape
//    while it times the ways to split it: the same bits on every call, and a decision reached
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_blocking.h"
#include "kernels/gemm_split_tuner.h"
#include "kernels/linear_chain.h"
#include "threadpool.h"

namespace {

int g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kSentinel = -12345.0f;

struct Case {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  int64_t pad_a, pad_b, pad_c;  // extra leading-dimension elements
  bool bias, relu;
};

std::string describe(const Case& c, const char* isa, int threads) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "%s%s m=%lld n=%lld k=%lld alpha=%g beta=%g pads=%lld,%lld,%lld bias=%d relu=%d isa=%s threads=%d",
                c.ta ? "T" : "N", c.tb ? "T" : "N", (long long)c.m, (long long)c.n, (long long)c.k, c.alpha, c.beta,
                (long long)c.pad_a, (long long)c.pad_b, (long long)c.pad_c, c.bias, c.relu, isa, threads);
  return buf;
}

// sgemm runs jobs under 16 MFLOP on the calling thread while the pool's workers sleep (waking one
// costs more than such a job gains), so tests that mean to exercise the threaded path wake the
// workers first (bounded wait: on a busy machine the case still runs, perhaps single-threaded).
void warm(tg::ThreadPool* pool) {
  if (!pool || pool->threads() < 2) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
  pool->parallel_for(pool->threads(), [](int64_t, int) {});
  while (!pool->workers_awake() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

// Runs one case and compares with the double-precision reference.
//
// Tolerance: the float result differs from the exact value by at most gamma_k * sum_p |a_p*b_p|
// for a length-k dot product in any summation order with or without FMA (gamma_k = k*u/(1-k*u),
// u = 2^-24: Higham, Accuracy and Stability of Numerical Algorithms, 3.1), plus a few more
// roundings for alpha, beta*c and the bias; relu is 1-Lipschitz, so it does not widen the bound.
// We allow (k + 4) * u * (|alpha| sum|a_p b_p| + |beta c| + |bias|) * 2, twice the worst case,
// which still catches any wrong index, missing term or mishandled edge (those are O(1) wrong).
bool run_case(const Case& c, std::mt19937& rng, tg::ThreadPool* pool, const char* isa, int threads) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t ar = c.ta ? c.k : c.m, ac = c.ta ? c.m : c.k;  // stored shape of A
  const int64_t br = c.tb ? c.n : c.k, bc = c.tb ? c.k : c.n;
  const int64_t lda = ac + c.pad_a, ldb = bc + c.pad_b, ldc = c.n + c.pad_c;
  std::vector<float> A(std::max<int64_t>(1, ar * lda), kNaN), B(std::max<int64_t>(1, br * ldb), kNaN);
  for (int64_t i = 0; i < ar; ++i)
    for (int64_t j = 0; j < ac; ++j) A[i * lda + j] = dist(rng);
  for (int64_t i = 0; i < br; ++i)
    for (int64_t j = 0; j < bc; ++j) B[i * ldb + j] = dist(rng);
  std::vector<float> C(std::max<int64_t>(1, c.m * ldc), kSentinel);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) C[i * ldc + j] = c.beta == 0.0f ? kNaN : dist(rng);
  std::vector<float> bias(c.n);
  for (float& x : bias) x = dist(rng);
  const std::vector<float> C0 = C;

  tg::GemmEpilogue ep;
  ep.bias = c.bias ? bias.data() : nullptr;
  ep.relu = c.relu;
  warm(pool);
  tg::sgemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc, &ep, pool);

  const double u = std::ldexp(1.0, -24);
  double worst = 0;
  bool ok = true;
  for (int64_t i = 0; i < c.m && ok; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double s = 0, sa = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double a = c.ta ? A[p * lda + i] : A[i * lda + p];
        const double b = c.tb ? B[j * ldb + p] : B[p * ldb + j];
        s += a * b;
        sa += std::fabs(a * b);
      }
      double ref = double(c.alpha) * s;
      double mag = std::fabs(double(c.alpha)) * sa;
      if (c.beta != 0.0f) {
        ref += double(c.beta) * C0[i * ldc + j];
        mag += std::fabs(double(c.beta) * C0[i * ldc + j]);
      }
      if (c.bias) {
        ref += bias[j];
        mag += std::fabs(bias[j]);
      }
      if (c.relu && ref < 0) ref = 0;
      const double tol = 2.0 * double(c.k + 4) * u * mag + 1e-30;
      const double got = C[i * ldc + j];
      const double err = std::fabs(got - ref);
      if (!(err <= tol)) {  // also catches NaN
        std::printf("  C[%lld,%lld] = %.9g, reference %.9g, |err| %.3g > tol %.3g\n", (long long)i, (long long)j, got,
                    ref, err, tol);
        ok = false;
        break;
      }
      worst = std::max(worst, err / tol);
    }
    for (int64_t j = c.n; j < ldc && ok; ++j) {
      if (C[i * ldc + j] != kSentinel) {
        std::printf("  C padding [%lld,%lld] was overwritten\n", (long long)i, (long long)j);
        ok = false;
      }
    }
  }
  check(ok, "reference " + describe(c, isa, threads));
  return ok;
}

void test_reference(const char* isa_name, tg::Isa isa) {
  tg::set_active_isa(isa);
  const char* active = tg::isa_name(tg::active_isa());
  if (std::strcmp(active, isa_name) != 0 && !(isa == tg::Isa::Avx2 && std::strcmp(active, "avx2") == 0)) {
    std::printf("note: ISA %s not available, kernels run as %s\n", isa_name, active);
  }
  std::mt19937 rng(42);
  tg::ThreadPool pool2(2);
  const float alphas[] = {1.0f, -0.5f, 2.0f};
  const float betas[] = {0.0f, 1.0f, 0.75f, -1.5f};
  // Every dimension takes 1, 7, 17; then 255 and 1000 appear in each position with small others.
  std::vector<std::array<int64_t, 3>> shapes;
  for (int64_t m : {1, 7, 17})
    for (int64_t n : {1, 7, 17})
      for (int64_t k : {1, 7, 17}) shapes.push_back({m, n, k});
  for (int64_t big : {255, 1000}) {
    shapes.push_back({big, 7, 17});
    shapes.push_back({17, big, 7});
    shapes.push_back({7, 17, big});
    shapes.push_back({big, 1, 17});
    shapes.push_back({1, big, 17});
    shapes.push_back({17, 1, big});
  }
  shapes.push_back({255, 255, 255});
  shapes.push_back({1000, 17, 255});
  shapes.push_back({17, 1000, 255});
  shapes.push_back({255, 17, 1000});
  shapes.push_back({70, 300, 784});   // packed A (n > 256), ragged edges, 4 K blocks
  shapes.push_back({61, 37, 255});    // ~1 MFLOP: threaded when the pool is awake, ragged both ways
  shapes.push_back({7, 255, 300});
  // m = 1 (NT reaches the dot-product path): k with and without 16/8-element tails, n ragged by 4
  shapes.push_back({1, 300, 784});
  shapes.push_back({1, 513, 1000});
  shapes.push_back({1, 10, 256});
  shapes.push_back({1, 37, 255});
  shapes.push_back({1, 1000, 300});
  shapes.push_back({1, 6, 9});
  int idx = 0;
  for (const auto& s : shapes) {
    for (int tr = 0; tr < 4; ++tr) {
      Case c;
      c.ta = tr & 1;
      c.tb = tr & 2;
      c.m = s[0];
      c.n = s[1];
      c.k = s[2];
      c.alpha = alphas[(idx / 3) % 3];
      c.beta = betas[idx % 4];
      c.pad_a = (idx % 3 == 0) ? 0 : 3 + idx % 5;
      c.pad_b = (idx % 2 == 0) ? 0 : 1 + idx % 7;
      c.pad_c = (idx % 5 < 2) ? 0 : 2 + idx % 3;
      c.bias = idx % 3 == 1 || idx % 7 == 0;
      c.relu = idx % 4 >= 2;
      const int threads = (idx % 2) ? 2 : 1;
      run_case(c, rng, threads == 2 ? &pool2 : nullptr, isa_name, threads);
      ++idx;
    }
  }
  // Every alpha/beta/epilogue combination on one shape with edges in both directions.
  for (float alpha : alphas)
    for (float beta : betas)
      for (int e = 0; e < 4; ++e) {
        Case c{idx % 2 == 1, idx % 3 == 1, 29, 37, 300, alpha, beta, 1, 2, 3, (e & 1) != 0, (e & 2) != 0};
        run_case(c, rng, &pool2, isa_name, 2);
        ++idx;
      }
  tg::set_active_isa(tg::detect_isa());
}

// C must be bitwise identical for 1, 2 and 3 threads.
void test_thread_determinism(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p1(1), p2(2), p3(3);
  struct S {
    int64_t m, n, k;
  };
  const S shapes[] = {{300, 200, 700},  {128, 512, 784},  {512, 784, 128},
                      {1000, 17, 300}, {17, 1000, 300}, {97, 61, 1500},
                      {1, 1000, 784},  {1, 257, 300},   {1, 4096, 31},   {4, 1000, 784}, {3, 257, 300}, {16, 200, 64},
                      // at most 16 columns: the narrow kernels, split over rows only
                      {1000, 10, 300}, {777, 16, 40},   {2000, 3, 9}};
  int idx = 0;
  for (const S& s : shapes) {
    for (int tr = 0; tr < 4; ++tr, ++idx) {
      const bool ta = tr & 1, tb = tr & 2;
      std::vector<float> A(s.m * s.k), B(s.k * s.n), bias(s.n), C0(s.m * s.n);
      for (float& x : A) x = dist(rng);
      for (float& x : B) x = dist(rng);
      for (float& x : bias) x = dist(rng);
      for (float& x : C0) x = dist(rng);
      tg::GemmEpilogue ep;
      ep.bias = idx % 2 ? bias.data() : nullptr;
      ep.relu = idx % 3 == 0;
      const float beta = idx % 2 ? 0.5f : 0.0f;
      std::vector<float> out[3];
      tg::ThreadPool* pools[3] = {&p1, &p2, &p3};
      for (int t = 0; t < 3; ++t) {
        out[t] = C0;
        warm(pools[t]);
        tg::sgemm(ta, tb, s.m, s.n, s.k, 1.25f, A.data(), ta ? s.m : s.k, B.data(), tb ? s.k : s.n, beta,
                  out[t].data(), s.n, &ep, pools[t]);
      }
      const bool same = std::memcmp(out[0].data(), out[1].data(), out[0].size() * 4) == 0 &&
                        std::memcmp(out[0].data(), out[2].data(), out[0].size() * 4) == 0;
      char buf[160];
      std::snprintf(buf, sizeof(buf), "bitwise 1/2/3 threads %s%s %lldx%lldx%lld isa=%s", ta ? "T" : "N",
                    tb ? "T" : "N", (long long)s.m, (long long)s.n, (long long)s.k, tg::isa_name(tg::active_isa()));
      check(same, buf);
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

void test_empty() {
  tg::ThreadPool pool(2);
  std::vector<float> C(12, 7.0f);
  // m = 0 or n = 0: nothing is touched (A, B and C may be null).
  tg::sgemm(false, false, 0, 4, 3, 1.0f, nullptr, 3, nullptr, 4, 0.0f, nullptr, 4, nullptr, &pool);
  tg::sgemm(true, true, 3, 0, 3, 1.0f, nullptr, 3, nullptr, 3, 0.0f, C.data(), 1, nullptr, &pool);
  bool ok = true;
  for (float x : C) ok = ok && x == 7.0f;
  check(ok, "m = 0 / n = 0 leave C alone");
  // k = 0: C = beta*C (+ bias, relu), A and B unread; beta 0 ignores NaN in C.
  std::vector<float> C2(6, kNaN), bias = {1.0f, -2.0f, 3.0f};
  tg::GemmEpilogue ep;
  ep.bias = bias.data();
  ep.relu = true;
  tg::sgemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, C2.data(), 3, &ep, &pool);
  check(C2[0] == 1.0f && C2[1] == 0.0f && C2[2] == 3.0f && C2[3] == 1.0f && C2[4] == 0.0f && C2[5] == 3.0f,
        "k = 0, beta = 0: C = relu(bias), NaN in C ignored");
  std::vector<float> C3 = {1, 2, 3, 4, 5, 6};
  tg::sgemm(true, false, 2, 3, 0, 1.0f, nullptr, 2, nullptr, 3, 2.0f, C3.data(), 3, nullptr, nullptr);
  check(C3[0] == 2 && C3[1] == 4 && C3[2] == 6 && C3[3] == 8 && C3[4] == 10 && C3[5] == 12, "k = 0, beta = 2");
  // alpha = 0: A and B are not read.
  std::vector<float> C4 = {1, 2, 3, 4};
  tg::sgemm(false, true, 2, 2, 5, 0.0f, nullptr, 5, nullptr, 5, -1.0f, C4.data(), 2, nullptr, &pool);
  check(C4[0] == -1 && C4[1] == -2 && C4[2] == -3 && C4[3] == -4, "alpha = 0, beta = -1");
}

void test_pool() {
  for (int threads : {1, 2, 3, 5}) {
    tg::ThreadPool pool(threads);
    check(pool.threads() == threads, "threads() after construction");
    for (int64_t tasks : {0, 1, 2, 3, 17, 1000}) {
      std::vector<std::atomic<int>> hits(tasks);
      std::atomic<bool> bad_worker{false}, task0_elsewhere{false};
      pool.parallel_for(tasks, [&](int64_t t, int w) {
        hits[t].fetch_add(1);
        if (w < 0 || w >= threads) bad_worker = true;
        if (t == 0 && w != 0) task0_elsewhere = true;  // the caller's task (cache affinity across calls)
      });
      bool once = true;
      for (auto& h : hits) once = once && h.load() == 1;
      check(once && !bad_worker, "parallel_for runs every task once, threads=" + std::to_string(threads) +
                                     " tasks=" + std::to_string(tasks));
      check(!task0_elsewhere, "the caller runs task 0, threads=" + std::to_string(threads) + " tasks=" + std::to_string(tasks));
    }
  }
  // Two threads calling parallel_for on the same pool at once, many times.
  {
    tg::ThreadPool pool(3);
    std::atomic<int64_t> sum{0};
    auto caller = [&] {
      for (int r = 0; r < 300; ++r) pool.parallel_for(8, [&](int64_t t, int) { sum.fetch_add(t + 1); });
    };
    std::thread a(caller), b(caller);
    a.join();
    b.join();
    check(sum.load() == 2 * 300 * 36, "concurrent parallel_for callers");
  }
  // Two threads running GEMMs on one pool at once (async work on a libuv thread while the JS
  // thread computes): whichever finds the pool taken runs its tiles inline, and both get the bits
  // a lone call gets. 40 MFLOP each, above kMinWakeFlops, so they do want the pool.
  {
    tg::ThreadPool pool(2);
    const int64_t m = 160, n = 250, k = 500;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> A(m * k), B(k * n), want(m * n);
    for (auto& v : A) v = u(rng);
    for (auto& v : B) v = u(rng);
    tg::sgemm(false, false, m, n, k, 1.0f, A.data(), k, B.data(), n, 0.0f, want.data(), n, nullptr, &pool);
    std::atomic<bool> same{true};
    auto caller = [&] {
      std::vector<float> C(m * n);
      for (int r = 0; r < 40; ++r) {
        tg::sgemm(false, false, m, n, k, 1.0f, A.data(), k, B.data(), n, 0.0f, C.data(), n, nullptr, &pool);
        if (std::memcmp(C.data(), want.data(), C.size() * sizeof(float)) != 0) same = false;
      }
    };
    std::thread a(caller), b(caller);
    a.join();
    b.join();
    check(same.load(), "concurrent sgemm calls on one pool give the bits of a lone call");
  }
  // A nested parallel_for on the same pool runs inline instead of deadlocking.
  {
    tg::ThreadPool pool(2);
    std::atomic<int> n{0};
    pool.parallel_for(4, [&](int64_t, int) { pool.parallel_for(3, [&](int64_t, int) { n.fetch_add(1); }); });
    check(n.load() == 12, "nested parallel_for");
  }
  // Resizing, and an exception in a task reaches the caller.
  {
    tg::ThreadPool pool(4);
    pool.set_threads(2);
    check(pool.threads() == 2, "set_threads(2)");
    pool.set_threads(3);
    std::atomic<int> n{0};
    pool.parallel_for(10, [&](int64_t, int) { n.fetch_add(1); });
    check(n.load() == 10 && pool.threads() == 3, "set_threads(3) then parallel_for");
    bool caught = false;
    try {
      pool.parallel_for(6, [&](int64_t t, int) {
        if (t == 4) throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    check(caught, "exception in a task is rethrown in the caller");
    n = 0;
    pool.parallel_for(5, [&](int64_t, int) { n.fetch_add(1); });
    check(n.load() == 5, "pool usable after an exception");
  }
  check(tg::default_threads() >= 1, "default_threads() >= 1");
}

// Storage on 64-byte boundaries, as the library allocates tensors: the AVX-512 dot products take
// only weights whose rows start on one.
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const Aligned64<U>&) const { return true; }
  template <class U>
  bool operator!=(const Aligned64<U>&) const { return false; }
};

// The AVX-512 and AVX2 kernels run one FMA chain per element of C over the same K blocks: the
// same bits, for every form, edge and epilogue. Operands are 64-byte aligned, so the few-row NT
// products with k a multiple of 16 take the AVX-512 dot products too.
void test_isas_agree() {
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool pool(2);
  struct S {
    int64_t m, n, k;
  };
  const S shapes[] = {{128, 512, 784}, {512, 784, 128}, {37, 61, 300}, {13, 33, 17}, {300, 200, 700}, {2, 1000, 64},
                     // at most 16 columns (AVX-512's 16x16 kernel, AVX2's 6x16): partial panels, several K
                     // blocks, a tall product that the driver splits over threads
                     {32, 10, 256}, {50, 16, 700}, {25, 1, 9}, {512, 10, 256}, {600, 7, 1000}, {3, 13, 40},
                     // batch 1 (the GEMV path in the NT forms): k with and without an 8-block and a tail
                     {1, 512, 784}, {1, 10, 256}, {1, 37, 13}, {1, 100, 5}, {1, 61, 300}, {1, 2000, 33}, {1, 9, 8},
                     // 2 to 8 rows: the dot-product path, whichever table
                     {4, 512, 784}, {5, 37, 300}, {6, 10, 256}, {3, 100, 5}, {7, 64, 100}, {8, 512, 784},
                     // C of 4 MiB and more (Tile::c_far: the AVX-512 kernel fetches the next tile's C
                     // ahead), partial row panels and column tiles, two K blocks
                     {1030, 1030, 300},
                     // last row panels of 10, 8 and 4 rows over several K blocks (AVX-512's edge
                     // tiles), short k against a wide tile (AVX-512 packs A)
                     {10, 256, 300}, {44, 70, 520}, {40, 33, 600}, {128, 256, 10}, {46, 96, 12}};
  int idx = 0;
  for (const S& s : shapes) {
    for (int tr = 0; tr < 4; ++tr, ++idx) {
      const bool ta = tr & 1, tb = tr & 2;
      if (s.m * s.n > (1 << 20) && tr != 0 && tr != 3) continue;  // NN and TT suffice for the big one
      std::vector<float, Aligned64<float>> A(s.m * s.k), B(s.k * s.n);
      std::vector<float> bias(s.n), C0(s.m * s.n);
      for (float& x : A) x = dist(rng);
      for (float& x : B) x = dist(rng);
      for (float& x : bias) x = dist(rng);
      for (float& x : C0) x = dist(rng);
      tg::GemmEpilogue ep;
      ep.bias = idx % 2 ? bias.data() : nullptr;
      ep.relu = idx % 3 == 0;
      const float beta = idx % 4 == 1 ? 0.5f : 0.0f;
      std::vector<float> out[2];
      const tg::Isa isas[2] = {tg::Isa::Avx2, tg::Isa::Avx512};
      for (int v = 0; v < 2; ++v) {
        tg::set_active_isa(isas[v]);
        out[v] = C0;
        tg::sgemm(ta, tb, s.m, s.n, s.k, 1.0f, A.data(), ta ? s.m : s.k, B.data(), tb ? s.k : s.n, beta,
                  out[v].data(), s.n, &ep, &pool);
      }
      char buf[160];
      std::snprintf(buf, sizeof(buf), "avx2 and avx512 bitwise equal %s%s %lldx%lldx%lld", ta ? "T" : "N",
                    tb ? "T" : "N", (long long)s.m, (long long)s.n, (long long)s.k);
      check(std::memcmp(out[0].data(), out[1].data(), out[0].size() * 4) == 0, buf);
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

}  // namespace

// The FMA kernels (AVX2, AVX-512, NEON) compute every element as one fused multiply-add chain over
// p, then alpha·x, fma(beta, c, x), + bias, ReLU. With one K block (k <= 256) that is this loop, so
// the active kernel must match it bit for bit: the same bits on every FMA machine.
void test_fma_definition(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool pool(2);
  struct S {
    int64_t m, n, k;
  };
  // (On x86 the NT form of up to kGemvMaxRows rows runs as dot products (gemv_avx2.cc), which sum
  // in another order: left out there; test_gemv_rows checks that path.)
  const bool x86 = isa == tg::Isa::Avx2 || isa == tg::Isa::Avx512;
  for (const S& s : {S{2, 10, 256}, S{9, 13, 5}, S{33, 50, 200}, S{130, 40, 64}, S{70, 12, 100}, S{49, 16, 33},
                     S{17, 20, 40},
                     // last row panels of 10, 8 and 4 rows (AVX-512 runs them on 10-, 8- and 4-row
                     // tiles), and short k against at least 3 micro-panels (AVX-512 packs A)
                     S{22, 128, 10}, S{20, 200, 12}, S{10, 256, 16}, S{16, 100, 7}, S{128, 256, 10}}) {
    for (int tr = 0; tr < 4; ++tr) {
      const bool ta = tr & 1, tb = tr & 2;
      if (x86 && tb && !ta && s.m <= tg::gemm::kGemvMaxRows) continue;
      std::vector<float> A(s.m * s.k), B(s.k * s.n), bias(s.n), C(s.m * s.n), want(s.m * s.n);
      for (float& x : A) x = dist(rng);
      for (float& x : B) x = dist(rng);
      for (float& x : bias) x = dist(rng);
      for (float& x : C) x = dist(rng);
      const float alpha = 1.5f, beta = 0.5f;
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          float acc = 0.0f;
          for (int64_t p = 0; p < s.k; ++p)
            acc = std::fma(ta ? A[p * s.m + i] : A[i * s.k + p], tb ? B[j * s.k + p] : B[p * s.n + j], acc);
          float v = std::fma(beta, C[i * s.n + j], acc * alpha) + bias[j];
          want[i * s.n + j] = v < 0.0f ? 0.0f : v;
        }
      tg::GemmEpilogue ep;
      ep.bias = bias.data();
      ep.relu = true;
      tg::sgemm(ta, tb, s.m, s.n, s.k, alpha, A.data(), ta ? s.m : s.k, B.data(), tb ? s.k : s.n, beta, C.data(), s.n,
                &ep, &pool);
      char buf[160];
      std::snprintf(buf, sizeof(buf), "%s equals the FMA-chain definition bit for bit %s%s %lldx%lldx%lld",
                    tg::isa_name(isa), ta ? "T" : "N", tb ? "T" : "N", (long long)s.m, (long long)s.n, (long long)s.k);
      check(std::memcmp(C.data(), want.data(), C.size() * 4) == 0, buf);
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

// linear_chain against one sgemm (NT, bias and ReLU epilogue) per layer into fresh buffers: the
// same bits, whatever the rows (the GEMV path at 1), the thread count and the work buffer held
// (filled with NaN first, so a layer reading a stale half would show).
void test_linear_chain(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p1(1), p3(3);
  struct Chain {
    int64_t rows, in_f;
    std::vector<int64_t> outs;
  };
  const Chain chains[] = {{1, 784, {512, 256, 10}}, {5, 33, {70, 1, 9, 40}}, {300, 784, {512, 256, 10}},
                          {2, 3, {4}},              {64, 16, {16, 16, 16, 16, 16, 16, 16, 16}},
                          {3, 0, {5, 2}}};  // no inputs: the first layer gives its bias
  int idx = 0;
  for (const Chain& c : chains) {
    const int n = static_cast<int>(c.outs.size());
    std::vector<float> x(c.rows * c.in_f);
    for (float& v : x) v = dist(rng);
    std::vector<std::vector<float>> w(n), b(n);
    std::vector<tg::ChainLayer> layers(n);
    int64_t k = c.in_f;
    for (int i = 0; i < n; ++i, ++idx) {
      w[i].resize(c.outs[i] * k);
      for (float& v : w[i]) v = dist(rng);
      b[i].resize(c.outs[i]);
      for (float& v : b[i]) v = dist(rng);
      layers[i] = {c.outs[i], w[i].data(), idx % 3 == 1 ? nullptr : b[i].data(), idx % 2 == 0};
      k = c.outs[i];
    }
    std::vector<float> want = x;
    k = c.in_f;
    for (int i = 0; i < n; ++i) {
      std::vector<float> y(c.rows * layers[i].out_f);
      tg::GemmEpilogue ep;
      ep.bias = layers[i].bias;
      ep.relu = layers[i].relu;
      tg::sgemm(false, true, c.rows, layers[i].out_f, k, 1.0f, want.data(), k, layers[i].w, k, 0.0f, y.data(),
                layers[i].out_f, &ep, &p1);
      want = std::move(y);
      k = layers[i].out_f;
    }
    int64_t widest = 0;
    for (int i = 0; i + 1 < n; ++i) widest = std::max(widest, c.outs[i]);
    const int64_t need = tg::linear_chain_work(c.rows, n, layers.data());
    check(need == 2 * c.rows * widest, "linear_chain_work is two activations of the widest inner layer");
    for (tg::ThreadPool* pool : {&p1, &p3}) {
      std::vector<float> work(std::max<int64_t>(need, 1), kNaN), out(want.size(), kSentinel);
      warm(pool);
      tg::linear_chain(c.rows, c.in_f, x.data(), n, layers.data(), out.data(), work.data(), pool);
      char buf[160];
      std::snprintf(buf, sizeof(buf), "linear_chain %lld rows, %d layers, %d threads, isa=%s: the layers' bits",
                    (long long)c.rows, n, pool->threads(), tg::isa_name(tg::active_isa()));
      check(std::memcmp(out.data(), want.data(), want.size() * 4) == 0, buf);
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

// pack_weight + GemmEpilogue::packed_b: bitwise the product that packs W itself, for row counts
// on both sides of the dot-product limit, widths below, at and past the 16- and 32-column
// micro-panels, depths of one and several K blocks (784: blocks of 200 and 184), 1 and 3 threads,
// with bias and ReLU; and a buffer packed for another shape or another ISA's layout is not used.
void test_packed_weight(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p1(1), p3(3);
  const int64_t ms[] = {9, 13, 150, 301};
  const int64_t ns[] = {1, 10, 16, 17, 33, 512};
  const int64_t ks[] = {1, 7, 256, 300, 784};
  for (int64_t n : ns) {
    for (int64_t k : ks) {
      std::vector<float> w(n * k), bias(n);
      for (float& v : w) v = dist(rng);
      for (float& v : bias) v = dist(rng);
      const int64_t size = tg::packed_weight_floats(n, k);
      // A NaN-filled buffer: any float the product reads that pack_weight did not write shows.
      std::vector<float> storage(size + 16, kNaN);
      float* packed = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(storage.data()) + 63) & ~uintptr_t(63));
      if (packed + size > storage.data() + storage.size()) packed = storage.data();
      tg::pack_weight(n, k, w.data(), packed);
      for (int64_t m : ms) {
        std::vector<float> a(m * k);
        for (float& v : a) v = dist(rng);
        for (int variant = 0; variant < 2; ++variant) {
          tg::GemmEpilogue plain;
          plain.bias = variant ? bias.data() : nullptr;
          plain.relu = variant == 1;
          tg::GemmEpilogue with = plain;
          with.packed_b = packed;
          with.packed_b_floats = size;
          for (tg::ThreadPool* pool : {&p1, &p3}) {
            std::vector<float> want(m * n, kSentinel), got(m * n, kSentinel);
            warm(pool);
            tg::sgemm(false, true, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, want.data(), n, &plain, pool);
            tg::sgemm(false, true, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, got.data(), n, &with, pool);
            char buf[200];
            std::snprintf(buf, sizeof(buf), "packed weight %lldx%lldx%lld %s, %d threads, isa=%s: the bits of W packed per call",
                          (long long)m, (long long)n, (long long)k, variant ? "bias+relu" : "plain", pool->threads(),
                          tg::isa_name(tg::active_isa()));
            check(std::memcmp(want.data(), got.data(), want.size() * 4) == 0, buf);
          }
        }
      }
    }
  }
  // Packed for [16, 300], used for a [17, 300] product (wrong header): ignored, not read.
  {
    const int64_t m = 20, k = 300;
    std::vector<float> w(17 * k), a(m * k);
    for (float& v : w) v = dist(rng);
    for (float& v : a) v = dist(rng);
    std::vector<float> packed(tg::packed_weight_floats(16, k));
    tg::pack_weight(16, k, w.data(), packed.data());
    tg::GemmEpilogue with;
    with.packed_b = packed.data();
    with.packed_b_floats = static_cast<int64_t>(packed.size());
    std::vector<float> want(m * 17), got(m * 17);
    tg::sgemm(false, true, m, 17, k, 1.0f, a.data(), k, w.data(), k, 0.0f, want.data(), 17, nullptr, &p1);
    tg::sgemm(false, true, m, 17, k, 1.0f, a.data(), k, w.data(), k, 0.0f, got.data(), 17, &with, &p1);
    check(std::memcmp(want.data(), got.data(), want.size() * 4) == 0, "a weight packed for another shape is not used");
  }
  // A header that matches on a buffer shorter than the layout (as a header forged, or an async
  // command checked under another ISA, would give): not used, never read past its end.
  {
    const int64_t m = 20, n = 40, k = 300;
    std::vector<float> w(n * k), garbage(n * k), a(m * k);
    for (float& v : w) v = dist(rng);
    for (float& v : garbage) v = dist(rng);
    for (float& v : a) v = dist(rng);
    std::vector<float> packed(tg::packed_weight_floats(n, k));
    tg::pack_weight(n, k, garbage.data(), packed.data());
    tg::GemmEpilogue with;
    with.packed_b = packed.data();
    with.packed_b_floats = static_cast<int64_t>(packed.size()) - 1;
    std::vector<float> want(m * n), got(m * n);
    tg::sgemm(false, true, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, want.data(), n, nullptr, &p1);
    tg::sgemm(false, true, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, got.data(), n, &with, &p1);
    check(std::memcmp(want.data(), got.data(), want.size() * 4) == 0, "a packed buffer shorter than its layout is not used");
    check(!tg::packed_weight_fits(packed.data(), static_cast<int64_t>(packed.size()) - 1, n, k) &&
              tg::packed_weight_fits(packed.data(), static_cast<int64_t>(packed.size()), n, k),
          "packed_weight_fits checks the length");
  }
  tg::set_active_isa(tg::detect_isa());
}

// Packed under one ISA, multiplied under another with another micro-panel width: not used.
void test_packed_weight_other_isa(tg::Isa pack_isa, tg::Isa use_isa) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p1(1);
  const int64_t m = 40, n = 64, k = 300;
  std::vector<float> w(n * k), a(m * k), garbage(n * k);
  for (float& v : w) v = dist(rng);
  for (float& v : a) v = dist(rng);
  for (float& v : garbage) v = dist(rng);
  tg::set_active_isa(pack_isa);
  // Packed from other values: if the product used it, C would show it.
  std::vector<float> packed(tg::packed_weight_floats(n, k) + 64);
  tg::pack_weight(n, k, garbage.data(), packed.data());
  tg::set_active_isa(use_isa);
  tg::GemmEpilogue with;
  with.packed_b = packed.data();
  with.packed_b_floats = static_cast<int64_t>(packed.size());
  std::vector<float> want(m * n), got(m * n);
  tg::sgemm(false, true, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, want.data(), n, nullptr, &p1);
  tg::sgemm(false, true, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, got.data(), n, &with, &p1);
  char buf[160];
  std::snprintf(buf, sizeof(buf), "a weight packed at %s is not used at %s", tg::isa_name(pack_isa), tg::isa_name(use_isa));
  check(std::memcmp(want.data(), got.data(), want.size() * 4) == 0, buf);
  tg::set_active_isa(tg::detect_isa());
}

// GemmSplit::Rows (a weight gradient's split): the 1-thread bits on 2 and 3 threads (a C of one
// row panel, 10 rows, is split as any other product).
void test_split_rows(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p1(1), p2(2), p3(3);
  struct S {
    int64_t m, n, k;
  };
  for (const S& s : {S{256, 512, 128}, S{512, 784, 32}, S{10, 256, 128}, S{10, 256, 512}, S{97, 300, 61}}) {
    std::vector<float> A(s.k * s.m), B(s.k * s.n), want(s.m * s.n);
    for (float& x : A) x = dist(rng);
    for (float& x : B) x = dist(rng);
    tg::sgemm(true, false, s.m, s.n, s.k, 1.0f, A.data(), s.m, B.data(), s.n, 0.0f, want.data(), s.n, nullptr, &p1);
    for (tg::ThreadPool* p : {&p2, &p3}) {
      std::vector<float> got(s.m * s.n, kNaN);
      warm(p);
      tg::sgemm(true, false, s.m, s.n, s.k, 1.0f, A.data(), s.m, B.data(), s.n, 0.0f, got.data(), s.n, nullptr, p,
                tg::GemmSplit::Rows);
      char buf[160];
      std::snprintf(buf, sizeof(buf), "GemmSplit::Rows TN %lldx%lldx%lld on %d threads isa=%s: the 1-thread bits",
                    (long long)s.m, (long long)s.n, (long long)s.k, p->threads(), tg::isa_name(isa));
      check(std::memcmp(got.data(), want.data(), want.size() * 4) == 0, buf);
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

// SplitTuner on made-up times: warm-up, the first call of each run not counted, the margin that
// keeps way 0, the retuning rounds, a full table.
void test_split_tuner_policy() {
  using T = tg::gemm::SplitTuner;
  const T::Key key{128, 256, 10, 8, nullptr};
  // Feeds one round: times[w] for way w, except the first call of each run, which gets first[w].
  auto round = [](T& t, const T::Key& k, int ways, const double* times, const double* first) {
    int calls = 0;
    while (t.decision(k) < 0 && calls < 1000) {
      bool timed;
      const int w = t.choose(k, ways, &timed);
      if (!timed) continue;
      t.record(k, w, (calls % T::kRun == 0) ? first[w] : times[w]);
      ++calls;
    }
    return calls;
  };
  {
    T t;
    bool timed = true;
    for (int i = 0; i < T::kWarmup; ++i) {
      const int w = t.choose(key, 3, &timed);
      check(w == 0 && !timed, "tuner: warm-up calls run way 0, untimed");
    }
    const double times[3] = {10e3, 8e3, 5e3}, first[3] = {10e3, 1.0, 50e3};
    const int calls = round(t, key, 3, times, first);
    check(calls == T::kRun * T::kRounds * 3, "tuner: decides after kRun x kRounds calls of each way");
    check(t.decision(key) == 2, "tuner: keeps the fastest way; a fast first call of a run does not count");
  }
  {
    T t;
    for (int i = 0; i < T::kWarmup; ++i) {
      bool timed;
      t.choose(key, 2, &timed);
    }
    const double times[2] = {10e3, 9.0e3};
    round(t, key, 2, times, times);
    check(t.decision(key) == 0, "tuner: a way less than 15% faster than way 0 does not replace it");
    // Decided: untimed until the retuning round, which then finds way 1 faster (best times are kept
    // over rounds, so way 1 measuring 4 us this time wins).
    bool timed = true;
    int untimed = 0;
    while (untimed < 100000) {
      const int w = t.choose(key, 2, &timed);
      if (timed) {
        t.record(key, w, w == 1 ? 4e3 : 10e3);
        break;
      }
      check(w == 0, "tuner: a decided shape runs its way");
      ++untimed;
    }
    check(untimed == T::kRetuneAfter - 1, "tuner: times the shape again after kRetuneAfter calls");
    const double times2[2] = {10e3, 4e3};
    round(t, key, 2, times2, times2);
    check(t.decision(key) == 1, "tuner: a retuning round can change the decision");
  }
  {
    T t;
    for (int i = 0; i < T::kSlots; ++i) {
      bool timed;
      t.choose(T::Key{i + 1, 1, 1, 0, nullptr}, 2, &timed);
    }
    const T::Key late{1000, 1, 1, 0, nullptr};
    bool timed = true;
    const int w = t.choose(late, 2, &timed);
    check(w == 0 && !timed && t.decision(late) == -1, "tuner: with the table full a new shape runs way 0, untimed");
  }
}

// sgemm on 2 threads over many calls of small shapes that split and whose grids are timed: every
// call gives the 1-thread bits, whichever grid the tuner runs it on, and the tuner comes to a
// decision.
void test_split_tuning(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p1(1), p2(2);
  struct S {
    bool ta, tb;
    int64_t m, n, k;
  };
  const S shapes[] = {{false, false, 32, 512, 256}, {true, false, 256, 512, 32}, {false, true, 32, 256, 512},
                      {false, false, 128, 128, 128}, {false, false, 96, 96, 96}};
  for (const S& s : shapes) {
    std::vector<float> A(s.m * s.k), B(s.k * s.n), want(s.m * s.n), got(s.m * s.n);
    for (float& x : A) x = dist(rng);
    for (float& x : B) x = dist(rng);
    const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    tg::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, want.data(), s.n, nullptr, &p1);
    warm(&p2);
    int differing = 0, calls = 0;
    for (; calls < 2000 && (calls < 300 || tg::sgemm_split_decision(s.ta, s.tb, s.m, s.n, s.k, &p2) < 0); ++calls) {
      std::fill(got.begin(), got.end(), kNaN);
      tg::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, got.data(), s.n, nullptr, &p2);
      differing += std::memcmp(got.data(), want.data(), got.size() * 4) != 0;
    }
    char buf[160];
    std::snprintf(buf, sizeof(buf), "tuned split %s%s %lldx%lldx%lld isa=%s: %d of %d calls differ from 1 thread",
                  s.ta ? "T" : "N", s.tb ? "T" : "N", (long long)s.m, (long long)s.n, (long long)s.k,
                  tg::isa_name(isa), differing, calls);
    check(differing == 0, buf);
    std::snprintf(buf, sizeof(buf), "tuned split %lldx%lldx%lld isa=%s: decided within %d calls", (long long)s.m,
                  (long long)s.n, (long long)s.k, tg::isa_name(isa), calls);
    check(tg::sgemm_split_decision(s.ta, s.tb, s.m, s.n, s.k, &p2) >= 0, buf);
  }
  tg::set_active_isa(tg::detect_isa());
}

// The batch-1 path walks a weight's rows the other way on each call (gemm::gemv_descending): both
// walks of each dot-product kernel must give the same bits, for every piece [j0, j1) a thread may
// get (ragged at either end, shorter than a block), for every row count the path takes (groups of
// four, pairs and a single row), and leave the rest of y alone. The AVX-512
// kernel must give the AVX2 kernel's bits: on rows that start on 64-byte boundaries (its own path;
// k covers every tail length class: none, 1-7 and 8-15 past a multiple of 16) and on rows that do
// not (it hands those to the AVX2 kernel).
void test_gemv_walks() {
#if !TG_X86_KERNELS
  std::printf("note: no x86 kernels in this build: the dot-product kernel's two walks were not exercised\n");
#else
  if (tg::detect_isa() != tg::Isa::Avx2 && tg::detect_isa() != tg::Isa::Avx512) {
    std::printf("note: this CPU has no AVX2: the batch-1 kernel's two walks were not exercised\n");
    return;
  }
  const bool has512 = tg::detect_isa() == tg::Isa::Avx512;
  if (!has512) std::printf("note: this CPU has no AVX-512: the AVX-512 dot-product kernel was not exercised\n");
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  struct S {
    int64_t n, k, j0, j1;
  };
  const S cases[] = {{513, 1000, 0, 513}, {513, 1000, 272, 513}, {513, 1000, 0, 272}, {37, 255, 5, 12},
                     {37, 255, 0, 3},     {10, 256, 0, 10},       {6, 9, 1, 6},        {3, 16, 0, 3},
                     {1, 31, 0, 1},       {64, 784, 16, 64},      {9, 7, 0, 9},        {11, 20, 2, 11},
                     {5, 1, 0, 5},        {21, 40, 0, 21}};
  int idx = 0;
  for (const S& s : cases) {
    for (int64_t m = 1; m <= tg::gemm::kGemvMaxRows; ++m) {
      for (const bool aligned : {false, true}) {
        // aligned: rows padded to a multiple of 16 floats in a 64-byte-aligned buffer; otherwise
        // rows of k floats starting 4 bytes past a boundary.
        const int64_t ldb = aligned ? (s.k + 15) / 16 * 16 : s.k;
        std::vector<float> x(m * s.k), Wbuf(s.n * ldb + 32), bias(s.n), y0(m * s.n);
        float* W = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(Wbuf.data()) + 63) / 64 * 64) + (aligned ? 0 : 1);
        for (float& v : x) v = dist(rng);
        for (int64_t i = 0; i < s.n * ldb; ++i) W[i] = dist(rng);
        for (float& v : bias) v = dist(rng);
        for (float& v : y0) v = dist(rng);
        for (int variant = 0; variant < 4; ++variant, ++idx) {
          const bool relu = variant & 1;
          const float beta = variant & 2 ? 0.5f : 0.0f;
          const float* b = variant == 2 ? nullptr : bias.data();
          std::vector<float> up = y0, down = y0;
          tg::gemm::gemv_nt_avx2(m, s.j0, s.j1, s.k, 1.25f, x.data(), s.k, W, ldb, beta, up.data(), s.n, b, relu, false);
          tg::gemm::gemv_nt_avx2(m, s.j0, s.j1, s.k, 1.25f, x.data(), s.k, W, ldb, beta, down.data(), s.n, b, relu, true);
          bool same = std::memcmp(up.data(), down.data(), up.size() * 4) == 0, outside = true, changed = false;
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < s.n; ++j) {
              const int64_t at = i * s.n + j;
              if (j < s.j0 || j >= s.j1) outside = outside && up[at] == y0[at];
              else changed = changed || up[at] != y0[at];
            }
          char buf[240];
          std::snprintf(buf, sizeof(buf), "dot-product walks: same bits, outputs [%lld, %lld) of %lld only, %lld rows, k=%lld ldb=%lld relu=%d beta=%g",
                        (long long)s.j0, (long long)s.j1, (long long)s.n, (long long)m, (long long)s.k, (long long)ldb,
                        relu ? 1 : 0, beta);
          check(same && outside && changed, buf);
          if (!has512) continue;
          for (const bool descending : {false, true}) {
            std::vector<float> z = y0;
            tg::gemm::gemv_nt_avx512(m, s.j0, s.j1, s.k, 1.25f, x.data(), s.k, W, ldb, beta, z.data(), s.n, b, relu,
                                     descending);
            std::snprintf(buf, sizeof(buf), "AVX-512 dot products: AVX2's bits (%s rows, %s walk), [%lld, %lld) of %lld, %lld rows, k=%lld relu=%d beta=%g",
                          aligned ? "aligned" : "unaligned", descending ? "descending" : "ascending", (long long)s.j0,
                          (long long)s.j1, (long long)s.n, (long long)m, (long long)s.k, relu ? 1 : 0, beta);
            check(std::memcmp(z.data(), up.data(), up.size() * 4) == 0, buf);
          }
        }
      }
    }
  }
#endif
}

// Products of up to kGemvMaxRows rows (NT) run as dot products: each row must have the bits it has
// alone (batch 1), on 1 and 2 threads, for every row count (groups of four, pairs and a last single
// row), ragged n and k, with beta and the epilogue. The weight is 64-byte aligned, as the library's
// are, so where k is a multiple of 16 the AVX-512 table runs its own kernel here.
void test_gemv_rows(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p2(2);
  struct S {
    int64_t n, k;
  };
  int idx = 0;
  for (const S& s : {S{513, 784}, S{37, 255}, S{10, 256}, S{6, 9}, S{64, 31}}) {
    for (int64_t m = 2; m <= tg::gemm::kGemvMaxRows; ++m) {
      std::vector<float> A(m * (s.k + 3)), bias(s.n), C0(m * (s.n + 2));
      std::vector<float, Aligned64<float>> W(s.n * s.k);
      for (float& v : A) v = dist(rng);
      for (float& v : W) v = dist(rng);
      for (float& v : bias) v = dist(rng);
      for (float& v : C0) v = dist(rng);
      tg::GemmEpilogue ep;
      ep.bias = idx % 3 ? bias.data() : nullptr;
      ep.relu = idx % 2 == 0;
      const float beta = idx % 4 < 2 ? 0.0f : 0.75f;
      ++idx;
      const int64_t lda = s.k + 3, ldc = s.n + 2;  // padded rows: the strides must be honoured
      std::vector<float> rows = C0;
      for (int64_t i = 0; i < m; ++i)
        tg::sgemm(false, true, 1, s.n, s.k, 1.25f, A.data() + i * lda, s.k, W.data(), s.k, beta, rows.data() + i * ldc,
                  s.n, &ep, nullptr);
      for (tg::ThreadPool* pool : {static_cast<tg::ThreadPool*>(nullptr), &p2}) {
        if (pool) warm(pool);
        std::vector<float> C = C0;
        tg::sgemm(false, true, m, s.n, s.k, 1.25f, A.data(), lda, W.data(), s.k, beta, C.data(), ldc, &ep, pool);
        char buf[160];
        std::snprintf(buf, sizeof(buf), "%lld rows x%lldx%lld NT: each row's bits as at batch 1 (padding kept) threads=%d isa=%s",
                      (long long)m, (long long)s.n, (long long)s.k, pool ? 2 : 1, tg::isa_name(isa));
        check(std::memcmp(C.data(), rows.data(), C.size() * 4) == 0, buf);
      }
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

// gemv_descending alternates per weight, also for four weights that share a set of its table, and
// a fifth weight in that set starts forwards and then alternates too.
void test_gemv_alternation() {
  // Addresses are only keys here, never read: five that fall in one set, found with the table's hash.
  auto set_of = [](uintptr_t a) { return static_cast<int>((a >> 6) * 0x9E3779B97F4A7C15ull >> 60); };
  std::vector<const float*> same;
  for (uintptr_t a = 0x100000; same.size() < 5; a += 64)
    if (set_of(a) == set_of(0x100000)) same.push_back(reinterpret_cast<const float*>(a));
  bool ok = true;
  for (int call = 0; call < 5; ++call)
    for (int w = 0; w < 4; ++w) ok = ok && tg::gemm::gemv_descending(same[w]) == (call % 2 == 1);
  check(ok, "batch-1 walk alternates for each of four weights in one set");
  const bool a = tg::gemm::gemv_descending(same[4]), b = tg::gemm::gemv_descending(same[4]);
  check(!a && b, "batch-1 walk: a fifth weight in a full set starts forwards, then alternates");
}

// End to end through sgemm: repeated batch-1 calls (whose walks alternate) give the same bits, on
// 1 and 2 threads.
void test_gemv_directions(tg::Isa isa) {
  tg::set_active_isa(isa);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  tg::ThreadPool p2(2);
  struct S {
    int64_t n, k;
  };
  const S shapes[] = {{513, 1000}, {37, 255}, {10, 256}, {6, 9}, {1000, 784}, {3, 16}};
  int idx = 0;
  for (const S& s : shapes) {
    std::vector<float> x(s.k), W(s.n * s.k), bias(s.n);
    for (float& v : x) v = dist(rng);
    for (float& v : W) v = dist(rng);
    for (float& v : bias) v = dist(rng);
    tg::GemmEpilogue ep;
    ep.bias = bias.data();
    ep.relu = idx++ % 2 == 0;
    for (tg::ThreadPool* pool : {static_cast<tg::ThreadPool*>(nullptr), &p2}) {
      if (pool) warm(pool);
      std::vector<float> first(s.n), again(s.n);
      tg::sgemm(false, true, 1, s.n, s.k, 1.0f, x.data(), s.k, W.data(), s.k, 0.0f, first.data(), s.n, &ep, pool);
      bool same = true;
      for (int call = 0; call < 5; ++call) {
        std::fill(again.begin(), again.end(), kNaN);
        tg::sgemm(false, true, 1, s.n, s.k, 1.0f, x.data(), s.k, W.data(), s.k, 0.0f, again.data(), s.n, &ep, pool);
        same = same && std::memcmp(first.data(), again.data(), first.size() * 4) == 0;
      }
      char buf[160];
      std::snprintf(buf, sizeof(buf), "batch-1 calls give the same bits 1x%lldx%lld threads=%d isa=%s", (long long)s.n,
                    (long long)s.k, pool ? 2 : 1, tg::isa_name(tg::active_isa()));
      check(same, buf);
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

int main() {
  std::printf("detected ISA: %s\n", tg::isa_name(tg::detect_isa()));
  test_pool();
  test_empty();
  test_reference("scalar", tg::Isa::Scalar);
  test_reference("avx2", tg::Isa::Avx2);
  test_thread_determinism(tg::Isa::Scalar);
  test_thread_determinism(tg::Isa::Avx2);
  test_gemv_walks();
  if (tg::detect_isa() == tg::Isa::Avx2 || tg::detect_isa() == tg::Isa::Avx512) test_gemv_rows(tg::Isa::Avx2);
  if (tg::detect_isa() == tg::Isa::Avx512) test_gemv_rows(tg::Isa::Avx512);
  test_gemv_alternation();
  test_gemv_directions(tg::detect_isa());
  test_linear_chain(tg::Isa::Scalar);
  test_linear_chain(tg::detect_isa());
  test_packed_weight(tg::Isa::Scalar);
  if (tg::detect_isa() == tg::Isa::Avx2 || tg::detect_isa() == tg::Isa::Avx512) {
    test_packed_weight(tg::Isa::Avx2);
    test_packed_weight_other_isa(tg::Isa::Avx2, tg::Isa::Scalar);
  }
  if (tg::detect_isa() == tg::Isa::Avx512) {
    test_packed_weight(tg::Isa::Avx512);
    test_packed_weight_other_isa(tg::Isa::Avx512, tg::Isa::Avx2);
  }
  if (tg::detect_isa() == tg::Isa::Neon) test_packed_weight(tg::Isa::Neon);
  test_split_tuner_policy();
  test_split_rows(tg::Isa::Scalar);
  test_split_rows(tg::detect_isa());
  // The shapes are chosen to split under the x86 kernels' blocking (AVX2 and AVX-512).
  // Each on a thread of its own: the tuner's table is per thread with 64 slots, and the shapes the
  // tests above ran on this thread while the pool was awake can fill it (then a shape is never
  // timed: the "decided" check failed now and then, depending on how many had been timed).
  const auto on_fresh_thread = [](tg::Isa isa) { std::thread([isa] { test_split_tuning(isa); }).join(); };
  if (tg::detect_isa() == tg::Isa::Avx2 || tg::detect_isa() == tg::Isa::Avx512) on_fresh_thread(tg::Isa::Avx2);
  if (tg::detect_isa() == tg::Isa::Avx512) on_fresh_thread(tg::Isa::Avx512);
  if (tg::detect_isa() == tg::Isa::Neon) {
    test_reference("neon", tg::Isa::Neon);
    test_thread_determinism(tg::Isa::Neon);
    test_fma_definition(tg::Isa::Neon);
  }
  if (tg::detect_isa() == tg::Isa::Avx2 || tg::detect_isa() == tg::Isa::Avx512) test_fma_definition(tg::Isa::Avx2);
  if (tg::detect_isa() == tg::Isa::Avx512) {
    test_reference("avx512", tg::Isa::Avx512);
    test_thread_determinism(tg::Isa::Avx512);
    test_isas_agree();
  } else {
    std::printf("note: this CPU has no AVX-512: the AVX-512 GEMM kernel was not exercised\n");
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
