#include "threadpool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define TG_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define TG_PAUSE() __asm__ __volatile__("yield")
#else
#define TG_PAUSE() ((void)0)
#endif

namespace tg {

namespace {

// How long a worker that has just finished a job keeps polling for the next one before it sleeps
// on the condition variable, and how long the caller polls for the other workers to finish before
// it sleeps. A training step issues GEMMs tens to hundreds of microseconds apart; waking a sleeping
// worker through the kernel costs 8-10 us for an empty job here (2-vCPU KVM guest) and, measured
// on 2-thread 128x256x512 GEMMs issued with 200 us of other work between them, 250 us per call
// with a 100 us spin against 200 us with 300 us (the GEMM alone: ~160-200 us; no spin: 280 us).
// Bounded, so an idle process stops using CPU this long after its last parallel_for.
constexpr auto kSpin = std::chrono::microseconds(300);

// Which pool (if any) the current thread is running a task of, and as which worker: a nested
// parallel_for on the same pool runs inline instead of deadlocking on call_mu_.
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_worker = 0;

struct InsideScope {
  const ThreadPool* saved_pool;
  int saved_worker;
  InsideScope(const ThreadPool* p, int w) : saved_pool(tl_pool), saved_worker(tl_worker) {
    tl_pool = p;
    tl_worker = w;
  }
  ~InsideScope() {
    tl_pool = saved_pool;
    tl_worker = saved_worker;
  }
};

template <class Pred>
bool spin_until(Pred done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      TG_PAUSE();
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}

}  // namespace

int default_threads() {
  if (const char* v = std::getenv("TENSORGRAD_NUM_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && n >= 1) return static_cast<int>(std::min<long>(n, 1024));
  }
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return std::min(n, 1024);
  }
#endif
  unsigned hc = std::thread::hardware_concurrency();
  return hc >= 1 ? static_cast<int>(std::min(hc, 1024u)) : 1;
}

ThreadPool::ThreadPool(int threads) { start_workers(std::max(1, threads)); }

ThreadPool::~ThreadPool() {
  std::lock_guard<std::mutex> call_lock(call_mu_);
  stop_workers();
}

void ThreadPool::set_threads(int threads) {
  threads = std::max(1, std::min(threads, 1024));
  std::lock_guard<std::mutex> call_lock(call_mu_);
  if (threads == threads_.load(std::memory_order_relaxed)) return;
  stop_workers();
  start_workers(threads);
}

// Called with call_mu_ held (or from the constructor) and no job running.
void ThreadPool::start_workers(int threads) {
  threads_.store(threads, std::memory_order_relaxed);
  workers_.reserve(threads - 1);
  // A new worker must not take the job that is current now for one published after its start.
  const uint64_t gen = gen_.load(std::memory_order_relaxed);
  for (int id = 1; id < threads; ++id) workers_.emplace_back([this, id, gen] { worker_main(id, gen); });
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    // An empty job, so that workers polling for the next one notice at once.
    const uint64_t gen = (gen_.load(std::memory_order_relaxed) + 1) & ((uint64_t(1) << (64 - kTaskBits)) - 1);
    tasks_ = 0;
    ticket_.store(gen << kTaskBits, std::memory_order_relaxed);
    gen_.store(gen, std::memory_order_release);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lk(mu_);
  stop_ = false;
}

void ThreadPool::worker_main(int id, uint64_t seen) {
  InsideScope inside(this, id);
  for (;;) {
    spin_until([&] { return gen_.load(std::memory_order_acquire) != seen; });
    std::unique_lock<std::mutex> lk(mu_);
    if (gen_.load(std::memory_order_relaxed) == seen && !stop_) {
      sleepers_.fetch_add(1, std::memory_order_relaxed);
      wake_cv_.wait(lk, [&] { return gen_.load(std::memory_order_relaxed) != seen || stop_; });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (stop_) return;
    seen = gen_.load(std::memory_order_relaxed);
    const Call call = call_;
    void* const ctx = ctx_;
    const int64_t tasks = tasks_;
    lk.unlock();
    work_on(seen, call, ctx, tasks, id);
  }
}

void ThreadPool::run_task(Call call, void* ctx, int64_t task, int64_t tasks, int worker) {
  try {
    call(ctx, task, worker);
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!error_) error_ = std::current_exception();
  }
  if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks && worker != 0) {
    std::lock_guard<std::mutex> lk(mu_);  // the caller may be asleep waiting for this
    done_cv_.notify_one();
  }
}

void ThreadPool::work_on(uint64_t gen, Call call, void* ctx, int64_t tasks, int worker) {
  const uint64_t tag = gen << kTaskBits;
  const uint64_t end = tag | static_cast<uint64_t>(tasks);
  uint64_t t = ticket_.load(std::memory_order_relaxed);
  for (;;) {
    if ((t & ~((uint64_t(1) << kTaskBits) - 1)) != tag || t >= end) return;  // another job, or none left
    if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acquire, std::memory_order_relaxed)) continue;
    run_task(call, ctx, static_cast<int64_t>(t - tag), tasks, worker);
    t = ticket_.load(std::memory_order_relaxed);
  }
}

void ThreadPool::run(int64_t tasks, Call call, void* ctx) {
  if (tasks <= 0) return;
  if (tl_pool == this || tasks == 1 || threads_.load(std::memory_order_relaxed) == 1) {
    // Inline: nested inside one of our own tasks, or nothing to share.
    const int worker = tl_pool == this ? tl_worker : 0;
    for (int64_t t = 0; t < tasks; ++t) call(ctx, t, worker);
    return;
  }
  if (tasks >= (int64_t(1) << kTaskBits)) throw std::length_error("ThreadPool::parallel_for: too many tasks");
  // Another thread holds the pool (async work on a libuv thread while the JS thread runs a kernel,
  // or the reverse): run the same tasks inline rather than wait, so the JS thread never blocks on
  // the pool. The task split is the caller's, not the pool's, so the result is the same bits.
  std::unique_lock<std::mutex> call_lock(call_mu_, std::try_to_lock);
  if (!call_lock.owns_lock()) {
    InsideScope inside(this, 0);
    for (int64_t t = 0; t < tasks; ++t) call(ctx, t, 0);
    return;
  }
  uint64_t gen;
  bool notify;
  {
    std::lock_guard<std::mutex> lk(mu_);
    call_ = call;
    ctx_ = ctx;
    tasks_ = tasks;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    // The generation tag wraps after 2^24 jobs; a worker would have to stall between reading a job
    // and claiming from it for that many jobs to confuse two of them.
    gen = (gen_.load(std::memory_order_relaxed) + 1) & ((uint64_t(1) << (64 - kTaskBits)) - 1);
    // Task 0 is the caller's, claimed before the job is published: the same part of a kernel's
    // data goes to the same thread every call (on two threads the worker, when awake, gets task 1),
    // so consecutive kernels over one weight find it in that core's cache (gemm.cc: choose_grid).
    ticket_.store((gen << kTaskBits) | 1, std::memory_order_relaxed);
    gen_.store(gen, std::memory_order_release);
    notify = sleepers_.load(std::memory_order_relaxed) > 0;
  }
  if (notify) wake_cv_.notify_all();
  {
    InsideScope inside(this, 0);
    run_task(call, ctx, 0, tasks, 0);
    work_on(gen, call, ctx, tasks, 0);
  }
  // Every task is claimed; wait for the ones other workers are still running.
  if (!spin_until([&] { return done_.load(std::memory_order_acquire) == tasks; })) {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return done_.load(std::memory_order_acquire) == tasks; });
  }
  std::exception_ptr err;
  {
    std::lock_guard<std::mutex> lk(mu_);
    err = error_;
    error_ = nullptr;
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace tg
