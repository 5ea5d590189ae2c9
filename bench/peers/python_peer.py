#!/usr/bin/env python3
"""Python peers of the benchmark suite (bench/suite): numpy GEMM, PyTorch training and inference.

The suite runs this once per configuration, in a fresh process, with the thread variables
(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS) already set in the environment, and
passes one JSON task on the command line:

  python3 python_peer.py '{"kind": "probe"}'
  python3 python_peer.py '{"kind": "gemm", "threads": 1, "shapes": [[name, form, m, n, k], ...], ...}'
  python3 python_peer.py '{"kind": "train", "threads": 2, "batch": 128, "data": DIR, ...}'
  python3 python_peer.py '{"kind": "infer", "threads": 2, "data": DIR, ...}'

It prints one line "RESULT <json>" on stdout; on failure it prints "RESULT {"error": ...}" and
exits 0 so the suite can report the reason next to the peer's name.
"""
import json
import os
import sys
import time


def result(obj):
    sys.stdout.write("RESULT " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def loaded_blas():
    """The BLAS shared objects this process has mapped (Debian's torch takes whatever libblas.so.3 points at)."""
    try:
        libs = set()
        for line in open("/proc/self/maps"):
            path = line.split()[-1]
            base = os.path.basename(path)
            if "blas" in base.lower() or "gomp" in base.lower():
                libs.add(os.path.realpath(path))
        return sorted(libs)
    except OSError:
        return []


def probe(task):
    out = {"python": sys.version.split()[0], "executable": sys.executable}
    try:
        import numpy as np
        out["numpy"] = np.__version__
        np.ones((64, 64), dtype=np.float32) @ np.ones((64, 64), dtype=np.float32)
        out["numpyBlas"] = loaded_blas()
    except Exception as e:  # noqa: BLE001 - the reason is the result
        out["numpyError"] = f"{type(e).__name__}: {e}"
    try:
        import torch
        out["torch"] = torch.__version__
        out["torchDefaultThreads"] = torch.get_num_threads()
        torch.ones(64, 64) @ torch.ones(64, 64)
        out["torchBlas"] = loaded_blas()
    except Exception as e:  # noqa: BLE001
        out["torchError"] = f"{type(e).__name__}: {e}"
    result(out)


def gemm(task):
    import numpy as np
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=task["threads"])
    except ImportError:
        limiter = None
    rng = np.random.default_rng(1)
    reps, min_time = task["reps"], task["minTime"]
    rows = []
    for name, form, m, n, k in task["shapes"]:
        ta, tb = form[0] == "T", form[1] == "T"
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        A = a.T if ta else a
        B = b.T if tb else b
        # Fresh output per call, as a user's `a @ b` does (and as tensorgrad's public matmul does).
        t0 = time.perf_counter()
        np.matmul(A, B)
        one = max(time.perf_counter() - t0, 1e-7)
        inner = max(1, int(min_time / one))
        for _ in range(max(2, inner)):
            np.matmul(A, B)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(A, B)
            times.append((time.perf_counter() - t0) / inner)
        rows.append({"name": name, "gflops": 2.0 * m * n * k / median(times) / 1e9})
    del limiter
    result({"rows": rows, "numpy": np.__version__})


def load_data(task):
    import numpy as np
    d = task["data"]
    meta = json.load(open(os.path.join(d, "meta.json")))
    x = np.fromfile(os.path.join(d, "x.bin"), dtype=np.float32).reshape(meta["rows"], meta["features"])
    y = np.fromfile(os.path.join(d, "y.bin"), dtype=np.int32).astype(np.int64)
    w = np.fromfile(os.path.join(d, "weights.bin"), dtype=np.float32)
    params = []
    off = 0
    for shape in meta["paramShapes"]:
        size = 1
        for s in shape:
            size *= s
        params.append(w[off:off + size].reshape(shape))
        off += size
    return meta, x, y, params


def torch_model(torch, meta, params):
    dims = meta["dims"]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    linears = [l for l in model if isinstance(l, torch.nn.Linear)]
    with torch.no_grad():
        for i, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(params[2 * i].copy()))
            lin.bias.copy_(torch.from_numpy(params[2 * i + 1].copy()))
    return model


def train(task):
    import torch
    torch.set_num_threads(task["threads"])
    meta, x, y, params = load_data(task)
    model = torch_model(torch, meta, params)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    B, R = task["batch"], meta["rows"]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step(i):
        s = (i * B) % R
        xb, yb = xt[s:s + B], yt[s:s + B]
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    first = step(0)
    t0 = time.perf_counter()
    warm = 1
    # As in bench/suite/child.ts: at least warmSeconds of warm-up, the steady state a training run is in.
    while warm < task["warmup"] or time.perf_counter() - t0 < task.get("warmSeconds", 0):
        step(warm)
        warm += 1
    per_step = max((time.perf_counter() - t0) / max(1, warm - 1), 1e-6) if warm > 1 else None
    steps = task["maxSteps"] if per_step is None else int(min(task["maxSteps"], max(task["minSteps"], task["budget"] / per_step)))
    losses = []
    t0 = time.perf_counter()
    for i in range(steps):
        losses.append(step(warm + i))
    secs = time.perf_counter() - t0
    result({"samplesPerSecond": steps * B / secs, "steps": steps, "firstLoss": first, "lastLoss": losses[-1],
            "detail": f"torch {torch.__version__}, {torch.get_num_threads()} threads"})


def infer(task):
    import numpy as np
    import torch
    torch.set_num_threads(task["threads"])
    meta, x, _y, params = load_data(task)
    model = torch_model(torch, meta, params).eval()
    out = {"detail": f"torch {torch.__version__}, {torch.get_num_threads()} threads, inference_mode"}
    B = task["batch"]
    xb = x[:B]
    with torch.inference_mode():
        check = model(torch.from_numpy(x[:4])).numpy()
        out["check"] = [float(v) for v in check.reshape(-1)[:8]]
        # Batch-B throughput: numpy input wrapped per call, output read back, as a user would.
        for _ in range(task["warmup"]):
            model(torch.from_numpy(xb)).numpy()
        t0 = time.perf_counter()
        n = 0
        while True:
            model(torch.from_numpy(xb)).numpy()
            n += 1
            el = time.perf_counter() - t0
            if n >= task["minCalls"] and el >= task["budget"]:
                break
        out["throughput"] = n * B / el
        lat = []
        rows = x.shape[0]
        # Latency in the steady state (child.ts, inferLoop): at least `warmup` calls and
        # latencyWarmSeconds of them.
        def warm(r):
            w0 = time.perf_counter()
            i = 0
            while i < task["warmup"] or time.perf_counter() - w0 < task.get("latencyWarmSeconds", 0):
                j = (i * r) % (rows - r + 1)
                model(torch.from_numpy(x[j:j + r])).numpy()
                i += 1

        warm(1)
        for i in range(task["latencyCalls"]):
            j = i % rows
            t = time.perf_counter()
            model(torch.from_numpy(x[j:j + 1])).numpy()
            lat.append((time.perf_counter() - t) * 1e6)
        # Batch 4 (a server batching the requests that arrive together): consecutive rows, half as many calls.
        r4 = min(4, rows)
        warm(r4)
        lat4 = []
        for i in range((task["latencyCalls"] + 1) // 2):
            j = (i * r4) % (rows - r4 + 1)
            t = time.perf_counter()
            model(torch.from_numpy(x[j:j + r4])).numpy()
            lat4.append((time.perf_counter() - t) * 1e6)
    lat.sort()
    lat4.sort()
    out["latencyMedianUs"] = median(lat)
    out["latencyP99Us"] = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    out["latencyCalls"] = len(lat)
    out["latency4MedianUs"] = median(lat4)
    out["latency4P99Us"] = lat4[min(len(lat4) - 1, int(0.99 * len(lat4)))]
    out["latency4Calls"] = len(lat4)
    result(out)


def main():
    task = json.loads(sys.argv[1])
    try:
        {"probe": probe, "gemm": gemm, "train": train, "infer": infer}[task["kind"]](task)
    except Exception as e:  # noqa: BLE001 - reported by the suite next to the peer's name
        result({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
