// The benchmark suite's report builder (bench/suite/report.ts) on a made-up result: the ratios
// point the documented way (> 1 = tensorgrad better, for throughput and for latency), the
// GEMM-bound limit is the FLOP-weighted one, peers that did not run are listed with their reason.
// No benchmark runs here.
import { describe, expect, it } from 'vitest';
import { type Measurement, type SuiteResult, cpuTicks, foreignCores } from '../bench/suite/common.js';
import { gemmBound, markdown, svg } from '../bench/suite/report.js';

function fake(): SuiteResult {
  const m = (part: Measurement['part'], system: Measurement['system'], threads: number, key: string, metric: Measurement['metric'], values: number[]): Measurement => ({
    part,
    system,
    threads,
    key,
    metric,
    values,
    runs: values.map(() => ({ detail: `${system} detail` })),
  });
  return {
    context: {
      date: '2026-01-01 00:00 UTC',
      cpu: 'Test <CPU> & Co',
      isa: 'avx2 yes',
      logicalCores: 2,
      node: 'v20.0.0',
      versions: { torch: '9.9' },
      loadStart: [0.5, 0.4, 0.3],
      loadEnd: [1, 1, 1],
      dataset: 'Fashion-MNIST',
      command: 'npm run bench',
      quick: false,
      wallSeconds: 12,
    },
    parts: ['gemm', 'train', 'infer'],
    gemmShapes: [
      // Two GEMMs of one batch-512 step: 2·512·100·10 = 1.024 MFLOP at 1 GFLOP/s and 2·512·100·30 = 3.072 MFLOP at 3 GFLOP/s.
      { name: 'a', form: 'NT', m: 512, n: 100, k: 10, step512: true },
      { name: 'b', form: 'NN', m: 512, n: 100, k: 30, step512: true },
    ],
    measurements: [
      m('gemm', 'tg-kernel', 2, 'a', 'gflops', [1, 1, 1]),
      m('gemm', 'tg-kernel', 2, 'a:NN', 'gflops', [2, 2, 2]),
      m('gemm', 'tg-kernel', 2, 'b', 'gflops', [3, 3, 3]),
      m('gemm', 'tg-native', 2, 'a', 'gflops', [1.5, 1.5, 1.5]),
      m('gemm', 'tg-native', 2, 'a', 'gflops disposed', [1.8, 1.8, 1.8]),
      m('gemm', 'numpy', 2, 'a', 'gflops', [4, 4, 4]),
      m('train', 'tg-native', 2, 'b512', 'samples/s', [300, 290, 310]),
      m('train', 'torch', 2, 'b512', 'samples/s', [100, 100, 100]),
      m('infer', 'tg-native', 2, 'b256', 'samples/s', [1000]),
      m('infer', 'ort', 2, 'b256', 'samples/s', [500]),
      m('infer', 'tg-native', 2, 'b1', 'latency median µs', [50]),
      m('infer', 'tg-native', 2, 'b1', 'latency p99 µs', [70]),
      m('infer', 'ort', 2, 'b1', 'latency median µs', [200]),
      m('infer', 'ort', 2, 'b1', 'latency p99 µs', [400]),
      m('infer', 'tg-native', 2, 'b4', 'latency median µs', [80]),
      m('infer', 'tg-native', 2, 'b4', 'latency p99 µs', [90]),
      m('infer', 'ort', 2, 'b4', 'latency median µs', [120]),
      m('infer', 'ort', 2, 'b4', 'latency p99 µs', [300]),
    ],
    unavailable: [{ system: 'brain', part: 'all', reason: 'not installed (npm package brain.js not found)' }],
    notes: ['a note'],
  };
}

describe('bench report', () => {
  it('computes the GEMM-bound limit FLOP-weighted over the batch-512 step', () => {
    // 1.024e6/1e9 + 3.072e6/3e9 = 2.048 ms per step → 512 / 2.048e-3 = 250,000 samples/s at 2 GFLOP/s.
    const b = gemmBound(fake(), 2)!;
    expect(b.limit).toBeCloseTo(250_000, 6);
    expect(b.gflops).toBeCloseTo(2, 9);
    expect(gemmBound(fake(), 1)).toBeNull();
  });

  it('writes ratios so that > 1 means tensorgrad is better, with median and min–max', () => {
    const md = markdown(fake());
    const row = (prefix: string): string => md.split('\n').find((l) => l.startsWith(prefix))!;
    // Training: 300 ÷ 100; 300 samples/s is 0.12% of 250,000.
    expect(row('| 512 | 2 |')).toContain('| 300 (290–310) |');
    expect(row('| 512 | 2 |')).toContain('| 3.00× |');
    expect(row('| 512 | 2 |')).toMatch(/\| 0% \|$/);
    // GEMM: public disposed 1.8 and left to GC 1.5 ÷ kernel NN 2, kernel 1 ÷ numpy 4.
    expect(row('| a | NT |')).toContain('| 1.8 (1.8–1.8) | 0.90× | 1.5 (1.5–1.5) | 0.75× |');
    expect(row('| a | NT |')).toContain('| 0.25× |');
    // Inference: throughput 1000 ÷ 500; latency is peer ÷ tensorgrad: 200 ÷ 50.
    const lines = md.split('\n');
    const lat = lines.findIndex((l) => l.startsWith('### Batch 1 latency'));
    const thr = lines.findIndex((l) => l.startsWith('### Batch 256 throughput'));
    expect(lines.slice(thr, lat).find((l) => l.startsWith('| 2 |'))).toContain('| 2.00× |');
    expect(lines.slice(lat).find((l) => l.startsWith('| 2 |'))).toContain('| 50 / 70 |');
    expect(lines.slice(lat).find((l) => l.startsWith('| 2 |'))).toContain('| 4.00× |');
    // Batch 4: 120 ÷ 80; a result without batch-4 figures (an older run) gets no batch-4 table.
    const lat4 = lines.findIndex((l) => l.startsWith('### Batch 4 latency'));
    expect(lat4).toBeGreaterThan(lat);
    expect(lines.slice(lat4).find((l) => l.startsWith('| 2 |'))).toContain('| 80 / 90 |');
    expect(lines.slice(lat4).find((l) => l.startsWith('| 2 |'))).toContain('| 1.50× |');
    const old = fake();
    old.measurements = old.measurements.filter((x) => x.key !== 'b4');
    expect(markdown(old)).toContain('### Batch 1 latency');
    expect(markdown(old)).not.toContain('### Batch 4 latency');
  });

  it('lists every peer that did not run with its reason, and the context', () => {
    const md = markdown(fake());
    expect(md).toContain('| brain.js | not run: not installed (npm package brain.js not found) |');
    expect(md).toContain('torch 9.9');
    expect(md).toContain('load average 0.50/0.40/0.30 at start, 1.00/1.00/1.00 at end');
    expect(md).toContain('- a note');
    expect(md).not.toContain('the machine was busy');
    const busy = fake();
    busy.context.loadEnd = [1.5, 1, 1];
    expect(markdown(busy)).toContain('**Warning: the machine was busy** (1-minute load average 0.50 at start, 1.50 at end, on 2 logical cores)');
    // Where /proc told how much CPU other processes took, that decides, not the load average
    // (which the suite's own processes raise).
    busy.context.foreignCores = 0.02;
    expect(markdown(busy)).not.toContain('the machine was busy');
    expect(markdown(busy)).toContain('other processes used 0.02 cores on average during the run');
    busy.context.foreignCores = 0.6;
    expect(markdown(busy)).toContain('**Warning: the machine was busy**: other processes used 0.60 of the 2 logical cores');
  });

  it('counts only other processes as foreign load', () => {
    // 10 s: the machine was busy for 1500 ticks, 1200 of them this process and its children
    expect(foreignCores({ machine: 1000, own: 50 }, { machine: 2500, own: 1250 }, 10)).toBeCloseTo(0.3, 10);
    expect(foreignCores({ machine: 0, own: 0 }, { machine: 100, own: 200 }, 10)).toBe(0);
    expect(foreignCores(null, { machine: 1, own: 1 }, 10)).toBeUndefined();
    const now = cpuTicks();
    if (process.platform === 'linux') expect(now !== null && now.machine > 0 && now.own > 0).toBe(true);
  });

  it('draws one bar per system and escapes text', () => {
    const s = svg(fake());
    expect(s.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(s.trimEnd().endsWith('</svg>')).toBe(true);
    expect(s).toContain('Test &lt;CPU&gt; &amp; Co');
    expect(s).not.toContain('<CPU>');
    // train b512: tensorgrad + PyTorch; infer b256 and b1: tensorgrad + onnxruntime.
    expect(s.match(/<rect x=/g)!.length).toBe(6);
    expect(s).toContain('300 samples/s');
    expect(s).toContain('50 µs');
  });
});
