#!/usr/bin/env python3
"""SGEMM peer benchmark: numpy float32 matmul (OpenBLAS) on the shapes bench_gemm measures.

Each thread count runs in its own child process, with OPENBLAS_NUM_THREADS (and friends) set
before numpy is imported (threadpoolctl is used instead when it is installed). Transposed operands
are .T views, which numpy hands to OpenBLAS as transpose flags without copying.

Output: one JSON line per (threads, shape), the same fields as native/tests/bench_gemm prints:
  {"impl": "numpy", "threads": 1, "name": "mlp784_fwd_nt", "form": "NT", "m": .., "n": .., "k": ..,
   "median_us": .., "gflops": ..}

With --native PATH/TO/bench_gemm the native benchmark runs too, paired with numpy shape by shape:
for each round, thread count and shape, numpy then native, back to back (the machine is shared,
so its speed drifts; pairing keeps each comparison within a few hundred milliseconds). The table
at the end gives, per shape and thread count, the best per-round median GFLOP/s of each and the
median over rounds of the paired ratio native/numpy. Run it as
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/numpy_gemm.py --native build-gemm/bench_gemm --rounds 3
"""
import argparse
import json
import os
import subprocess
import sys

# (name, form, m, n, k): C[m,n] = op(A)[m,k] op(B)[k,n]. Kept in sync with native/tests/bench_gemm.cc.
# The MLP layers are (M, K, N) = batch x in x out; forward is X[M,K] W^T (W stored [N,K]: NT) or X W (W [K,N]: NN),
# weight gradient dW[N,K] = G^T[N,M] X[M,K] (TN), input gradient dX[M,K] = G[M,N] W[N,K] (NN).
def shapes():
    out = []
    for s in (64, 128, 256, 512, 1024, 2048):
        out.append((f"sq{s}", "NN", s, s, s))
    for (M, K, N) in ((128, 784, 512), (128, 512, 256), (128, 256, 10)):
        tag = f"mlp{M}x{K}x{N}"
        out.append((tag + "_fwd_nt", "NT", M, N, K))
        out.append((tag + "_fwd_nn", "NN", M, N, K))
        out.append((tag + "_wgrad_tn", "TN", N, K, M))
        out.append((tag + "_igrad_nn", "NN", M, K, N))
    return out


def child(threads, reps, min_time, only):
    import time
    import numpy as np
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=threads)
    except ImportError:
        limiter = None
    rng = np.random.default_rng(1)
    for name, form, m, n, k in shapes():
        if only and only not in name:
            continue
        ta, tb = form[0] == "T", form[1] == "T"
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        A = a.T if ta else a
        B = b.T if tb else b
        c = np.empty((m, n), dtype=np.float32)
        flops = 2.0 * m * n * k
        # Calls per timed repetition so that one repetition lasts about min_time.
        t0 = time.perf_counter()
        np.matmul(A, B, out=c)
        one = max(time.perf_counter() - t0, 1e-7)
        inner = max(1, int(min_time / one))
        for _ in range(max(3, inner)):  # warm-up
            np.matmul(A, B, out=c)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(A, B, out=c)
            times.append((time.perf_counter() - t0) / inner)
        times.sort()
        med = times[len(times) // 2]
        print(json.dumps({"impl": "numpy", "threads": threads, "name": name, "form": form, "m": m, "n": n, "k": k,
                          "median_us": round(med * 1e6, 3), "gflops": round(flops / med / 1e9, 2)}), flush=True)
    del limiter


def run_numpy(threads, reps, min_time, only):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(threads), "--reps", str(reps),
           "--min-time", str(min_time)]
    if only:
        cmd += ["--only", only]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def run_native(path, threads, reps, min_time, only):
    cmd = [path, "--threads", str(threads), "--reps", str(reps), "--min-time", str(min_time)]
    if only:
        cmd += ["--only", only]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions (median reported)")
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per repetition")
    ap.add_argument("--native", help="path to the bench_gemm executable: run it paired with numpy and compare")
    ap.add_argument("--rounds", type=int, default=1, help="with --native: repeat the paired runs this many times")
    ap.add_argument("--only", help="only shapes whose name contains this")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.reps, args.min_time, args.only)
        return
    thread_counts = [int(x) for x in args.threads.split(",")]
    if not args.native:
        for t in thread_counts:
            for r in run_numpy(t, args.reps, args.min_time, args.only):
                print(json.dumps(r), flush=True)
        return
    names = [s for s in shapes() if not args.only or args.only in s[0]]
    best = {}    # (impl, threads, name) -> best per-round median GFLOP/s
    ratios = {}  # (threads, name) -> [native/numpy per round]
    for rnd in range(args.rounds):
        for t in thread_counts:
            for name, _form, _m, _n, _k in names:
                pair = {}
                for impl, rows in (("numpy", run_numpy(t, args.reps, args.min_time, name)),
                                   ("native", run_native(args.native, t, args.reps, args.min_time, name))):
                    for r in rows:
                        if r["name"] != name:
                            continue
                        r["round"] = rnd
                        print(json.dumps(r), flush=True)
                        pair[impl] = r["gflops"]
                        key = (impl, t, name)
                        best[key] = max(best.get(key, 0.0), r["gflops"])
                if "numpy" in pair and "native" in pair:
                    ratios.setdefault((t, name), []).append(pair["native"] / pair["numpy"])
    print()
    print(f"{'shape':28s} {'form':4s} {'m':>5s} {'n':>5s} {'k':>5s} | " +
          " | ".join(f"{'T=' + str(t):>4s} {'native':>7s} {'numpy':>7s} {'ratio':>5s}" for t in thread_counts))
    for name, form, m, n, k in names:
        cells = []
        for t in thread_counts:
            rs = sorted(ratios.get((t, name), []))
            if rs:
                med = rs[len(rs) // 2] if len(rs) % 2 else 0.5 * (rs[len(rs) // 2 - 1] + rs[len(rs) // 2])
                cells.append(f"{'':4s} {best[('native', t, name)]:7.1f} {best[('numpy', t, name)]:7.1f} {med:5.2f}")
            else:
                cells.append(f"{'':4s} {'-':>7s} {'-':>7s} {'-':>5s}")
        print(f"{name:28s} {form:4s} {m:5d} {n:5d} {k:5d} | " + " | ".join(cells))
    print(f"(GFLOP/s: best over {args.rounds} round(s) of each run's median; ratio: median over rounds of the "
          "paired native/numpy ratio)")


if __name__ == "__main__":
    main()
