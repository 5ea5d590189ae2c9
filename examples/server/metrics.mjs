/**
 * What GET /metrics reports: request counts by route and status, latency percentiles over a
 * bounded window per route, and micro-batch sizes. Everything is bounded: unknown paths share one
 * route key, so a client cannot grow the tables by inventing URLs.
 */

const WINDOW = 1024;

/** The last WINDOW latencies of one route, in a ring buffer. */
class LatencyWindow {
  constructor() {
    this.values = new Float64Array(WINDOW);
    this.count = 0; // all requests ever, not only those in the window
  }

  add(ms) {
    this.values[this.count % WINDOW] = ms;
    this.count++;
  }

  summary() {
    const n = Math.min(this.count, WINDOW);
    const sorted = this.values.slice(0, n).sort();
    // Nearest-rank percentiles: always a latency that was actually observed.
    const at = (p) => (n === 0 ? null : round(sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]));
    return { count: this.count, window: n, p50: at(50), p90: at(90), p99: at(99), max: n === 0 ? null : round(sorted[n - 1]) };
  }
}

const round = (ms) => Math.round(ms * 1000) / 1000;

export class Metrics {
  constructor() {
    this.startedAt = new Date();
    /** route → status → count */
    this.requests = new Map();
    /** route → LatencyWindow */
    this.latency = new Map();
    this.batches = { count: 0, rows: 0, maxSize: 0, sizes: new Map() };
  }

  /** One finished request; `route` is "METHOD /path" for known routes, else "other". */
  request(route, status, ms) {
    let byStatus = this.requests.get(route);
    if (byStatus === undefined) this.requests.set(route, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let w = this.latency.get(route);
    if (w === undefined) this.latency.set(route, (w = new LatencyWindow()));
    w.add(ms);
  }

  /** One forward pass of the micro-batcher over `size` single-sample requests. */
  batch(size) {
    const b = this.batches;
    b.count++;
    b.rows += size;
    b.maxSize = Math.max(b.maxSize, size);
    // Power-of-two buckets keep the histogram to a dozen keys whatever the traffic.
    const lo = 2 ** Math.floor(Math.log2(size));
    const key = lo === 1 ? '1' : `${lo}-${2 * lo - 1}`;
    b.sizes.set(key, (b.sizes.get(key) ?? 0) + 1);
  }

  toJSON() {
    const requests = {};
    for (const [route, byStatus] of this.requests) requests[route] = Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0]));
    const latencyMs = {};
    for (const [route, w] of this.latency) latencyMs[route] = w.summary();
    const b = this.batches;
    return {
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      requests,
      latencyMs,
      microBatches: { count: b.count, rows: b.rows, meanSize: b.count === 0 ? null : round(b.rows / b.count), maxSize: b.maxSize, sizes: Object.fromEntries(b.sizes) },
    };
  }
}
