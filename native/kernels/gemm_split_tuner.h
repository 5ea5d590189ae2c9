// How to split a small GEMM over the pool, decided by timing the candidate grids on its first
// calls rather than by the cost model alone.
//
// For a product whose operands fit in one core's L2, the grid of tasks decides how much data moves
// between cores and how the cores share C's cache lines, and the cost model (gemm.cc: grid_cost)
// does not see all of it: on a 2-vCPU Sapphire Rapids-class Xeon, 256x512x32 TN took 50 us split
// by columns (the model's grid) and 28 us by rows, while 32x512x256 was faster by columns (32 us
// against 40 by rows, the model's). The driver asks this table for such products: their first
// calls after a warm-up run each candidate grid in turn and are timed, then the fastest is kept
// for that shape. Every grid computes each element of C with the same operations in the same
// order, so the choice never changes a result, only the time.
//
// The table is per calling thread (no locks; a JS thread and its pool workers never share one)
// and fixed-size: when it is full, later shapes take the cost model's grid untimed.
#pragma once

#include <cstdint>

namespace tg {
namespace gemm {

class SplitTuner {
 public:
  // Ways to run a product: grids of tasks the caller lists, way 0 the cost model's (at most
  // kMaxWays in all).
  static constexpr int kMaxWays = 3;
  // The first calls of a shape run way 0 untimed: they pay for cold caches, page faults and, on
  // some CPUs, the ramp-up of the wide vector units and of a worker's core after a sleep (measured
  // on a Xeon: 128x256x10 took about 17 us in the first calls after an idle spell, 6.7 us later).
  static constexpr int kWarmup = 16;
  // Then runs of kRun calls of one way, the ways in turn, kRounds runs of each; the first call of
  // each run is not counted (it moves the data the previous way left between cores). A run keeps
  // the cache state the way makes for itself when a shape is called back to back; in a training
  // step each shape is called once among other products, and the runs then span steps.
  static constexpr int kRun = 4;
  static constexpr int kRounds = 2;
  // Another way replaces way 0 only when its best time is below this fraction of way 0's: the
  // model's grid keeps a weight's rows on the core that updates them from kernel to kernel (see
  // best_grid's comment in gemm.cc), which the GEMM's own time does not show. With 0.95, a
  // 128-128-128-10 MLP trained 6% slower at batch 128 on 2 threads (its 128^3 products timed 8%
  // faster split by rows than by the model's columns); with 0.85 as fast as before, while the
  // 784-512-256-10 MLP at batch 32 gained the same 17% (its weight gradient, 256x512x32 TN, runs
  // 28 us split by rows against 50 by columns).
  static constexpr double kMargin = 0.85;
  // A decided shape is timed again after this many more calls, and then after 16 times as many
  // each time, each way keeping its best time over all rounds: a round disturbed by something
  // else on the machine is outvoted later.
  static constexpr int64_t kRetuneAfter = 256;
  static constexpr int kSlots = 64;

  struct Key {
    int64_t m, n, k;
    uint32_t flags;       // transposes and thread count, packed by the caller
    const void* kernels;  // the microkernel table in use (narrow or wide, per ISA)
    bool operator==(const Key& o) const {
      return m == o.m && n == o.n && k == o.k && flags == o.flags && kernels == o.kernels;
    }
  };

  // Which of `ways` ways (2..kMaxWays, the same for every call of `key`) runs the next call.
  // *timed is set when the caller must time that call and report it to record(). Way 0 runs the
  // warm-up, and every call when the table has no room.
  int choose(const Key& key, int ways, bool* timed) {
    Entry* e = find(key, true);
    *timed = false;
    if (e == nullptr) return 0;
    if (e->decided) {
      if (++e->since < e->retune) return e->way;
      e->decided = false;  // a new round, from the same best times
      e->timed = 0;
      e->since = 0;
      e->retune *= 16;
    }
    if (e->seen < kWarmup) {
      ++e->seen;
      e->ways = ways;
      return 0;
    }
    *timed = true;
    return way_of(*e);
  }

  // The time of a call that choose() asked to be timed.
  void record(const Key& key, int way, double ns) {
    Entry* e = find(key, false);
    if (e == nullptr || e->decided || way != way_of(*e)) return;
    if (e->timed % kRun != 0 && (e->best[way] < 0 || ns < e->best[way])) e->best[way] = ns;
    if (++e->timed < kRun * kRounds * e->ways) return;
    int pick = 0;
    for (int w = 1; w < e->ways; ++w) {
      if (e->best[w] < kMargin * e->best[0] && (pick == 0 || e->best[w] < e->best[pick])) pick = w;
    }
    e->way = pick;
    e->decided = true;
  }

  // For tests and diagnostics: the kept way, or -1 while undecided or unknown.
  int decision(const Key& key) {
    const Entry* e = find(key, false);
    return e != nullptr && e->decided ? e->way : -1;
  }

 private:
  struct Entry {
    Key key;
    bool used = false, decided = false;
    int way = 0, ways = 2, seen = 0, timed = 0;
    int64_t since = 0, retune = kRetuneAfter;  // calls since the last decision; the next round at
    double best[kMaxWays] = {-1, -1, -1};
  };

  static int way_of(const Entry& e) { return (e.timed / kRun) % e.ways; }

  Entry* find(const Key& key, bool insert) {
    uint64_t h = static_cast<uint64_t>(key.m) * 0x9E3779B97F4A7C15ull;
    h ^= static_cast<uint64_t>(key.n) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(key.k) + 0x8CB92BA72F3D8DD7ull + (h << 6) + (h >> 2);
    h ^= key.flags + (h << 6) + (h >> 2);
    for (int probe = 0; probe < kSlots; ++probe) {
      Entry& e = slots_[(h + probe) % kSlots];
      if (e.used && e.key == key) return &e;
      if (!e.used) {
        if (!insert) return nullptr;
        e.used = true;
        e.key = key;
        return &e;
      }
    }
    return nullptr;
  }

  Entry slots_[kSlots];
};

}  // namespace gemm
}  // namespace tg
