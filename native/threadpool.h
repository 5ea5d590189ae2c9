// One persistent pool of worker threads for the kernels (pure C++, no N-API).
//
// parallel_for(tasks, fn) runs fn(task, worker) for every task in [0, tasks) and returns when all
// have finished. The calling thread takes part as worker 0; workers 1..threads()-1 are pool
// threads, so `worker` indexes per-thread scratch. The caller always runs task 0; the others are
// claimed dynamically (an atomic counter), so which worker runs which of them is not fixed:
// kernels that need reproducible results must make each task's result independent of the worker
// that runs it (the GEMM does).
//
// Idle workers sleep on a condition variable (after a short bounded spin, see threadpool.cc), so an
// idle process burns no CPU. When two threads call parallel_for on the same pool at once, the one
// that finds the pool taken runs all its tasks inline on its own thread (worker index 0) instead
// of waiting; a parallel_for issued from inside a task of the same pool runs inline on the calling
// worker too. The destructor joins the workers (call it while no parallel_for is running).
// An exception thrown by a task is rethrown in the caller (the first one; remaining tasks still
// run).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace tg {

// Available parallelism: env TENSORGRAD_NUM_THREADS when it is a positive integer, else the number
// of CPUs this process may run on (sched_getaffinity), else std::thread::hardware_concurrency(),
// else 1. Clamped to [1, 1024].
int default_threads();

class ThreadPool {
 public:
  // threads >= 1 (values below are taken as 1): the caller plus threads - 1 pool threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Resizes the pool (joins or starts workers); waits for a running parallel_for to finish first.
  void set_threads(int threads);
  int threads() const { return threads_.load(std::memory_order_relaxed); }

  // True when no worker is asleep: a job handed out now starts on every thread within about a
  // microsecond. Waking a sleeping worker costs the caller ~12 us (futex wake on a KVM guest) and
  // the worker 20-100 us to get going, more than a small job is worth: callers use this to run
  // small jobs inline when the pool is cold. Workers stay awake for a while after each job.
  bool workers_awake() const { return sleepers_.load(std::memory_order_relaxed) == 0; }

  // fn is any callable (int64_t task, int worker); it is called by reference, never copied, and
  // nothing is allocated per call.
  template <class F>
  void parallel_for(int64_t tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run(tasks, [](void* ctx, int64_t task, int worker) { (*static_cast<Fn*>(ctx))(task, worker); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Call = void (*)(void* ctx, int64_t task, int worker);
  void run(int64_t tasks, Call call, void* ctx);
  void start_workers(int threads);
  void stop_workers();
  void worker_main(int id, uint64_t seen_gen);
  // Claims and runs tasks of job `gen` until none are left.
  void work_on(uint64_t gen, Call call, void* ctx, int64_t tasks, int worker);
  // Runs one task, records its exception, counts it done (waking the caller after the last).
  void run_task(Call call, void* ctx, int64_t task, int64_t tasks, int worker);

  std::mutex call_mu_;  // serialises parallel_for and set_threads callers
  std::atomic<int> threads_{1};

  std::mutex mu_;  // guards the job description below and the condition variables
  std::condition_variable wake_cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  // The current job. gen_ changes (under mu_) each time a job is published; workers copy the job
  // under mu_ when they see a new generation.
  std::atomic<uint64_t> gen_{0};
  Call call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t tasks_ = 0;
  // Next task to claim, tagged with the job's generation: (gen << kTaskBits) | task. A worker
  // claims with a compare-and-swap that fails when the tag is not its job's, so a worker that
  // wakes late can never run a task of a later job with an earlier job's function. The caller
  // therefore waits only for the tasks to finish, never for sleeping workers to wake.
  static constexpr int kTaskBits = 40;
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int64_t> done_{0};  // tasks of the current job finished
  std::exception_ptr error_;
  std::atomic<int> sleepers_{0};
};

}  // namespace tg
