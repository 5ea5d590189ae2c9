import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The examples import 'tensorgrad' by name, which resolves to this checkout's dist/ (npm test builds
// it first). Each example throws when what it teaches did not happen; these tests also read the
// numbers it prints, so a silently wrong example fails here too.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let scratch = '';

/** Runs examples/<name> from the repo root; on failure the error carries the example's own output. */
function runExample(name: string, args: string[] = []): string {
  try {
    return execFileSync(process.execPath, [join(root, 'examples', name), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string };
    throw new Error(`examples/${name} exited with status ${e.status}\n--- stdout\n${e.stdout ?? ''}\n--- stderr\n${e.stderr ?? ''}`);
  }
}

/** The number captured by `re`'s first group; fails the test when the line is missing. */
function numberAfter(out: string, re: RegExp): number {
  const m = re.exec(out);
  if (m === null) throw new Error(`expected output matching ${re}, got:\n${out}`);
  return Number(m[1]);
}

/** The text from the line containing `heading` up to the next blank line. */
function section(out: string, heading: string): string {
  const at = out.indexOf(heading);
  if (at < 0) throw new Error(`expected a section "${heading}" in:\n${out}`);
  const end = out.indexOf('\n\n', at);
  return out.slice(at, end < 0 ? undefined : end);
}

describe('examples/', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/esm/index.js'))) throw new Error('dist/ is missing: run `npm run build:ts` (npm test does)');
    scratch = mkdtempSync(join(tmpdir(), 'tensorgrad-examples-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('linear-regression.mjs recovers the true weights and lands on the least-squares solution', () => {
    const out = runExample('linear-regression.mjs');
    const rows = [...out.matchAll(/^(W\[\d,\d\]|b\[\d\])\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)$/gm)];
    expect(rows.map((r) => r[1])).toEqual(['W[0,0]', 'W[0,1]', 'W[0,2]', 'W[1,0]', 'W[1,1]', 'W[1,2]', 'b[0]', 'b[1]']);
    for (const [, name, truth, sgd, lstsq] of rows) {
      expect(Math.abs(Number(sgd) - Number(truth)), `${name}: SGD vs true`).toBeLessThan(0.05);
      // Printed to 4 decimals, so the two solutions may differ by one unit in the last place.
      expect(Math.abs(Number(sgd) - Number(lstsq)), `${name}: SGD vs least squares`).toBeLessThanOrEqual(1.5e-4);
    }
    // The true parameters are not all alike, so a row mix-up would show.
    expect(new Set(rows.map((r) => r[2])).size).toBe(8);
    expect(numberAfter(out, /max \|SGD - least-squares\|: (\S+)/)).toBeLessThan(1e-3);
    const mse = numberAfter(out, /final MSE: (\d+\.\d+)/);
    expect(mse).toBeGreaterThan(0.005); // the noise (σ = 0.1) cannot be fitted away
    expect(mse).toBeLessThan(0.02);
  });

  it('linear-collapse.mjs: stacked Linears equal one affine map, fail XOR, and Tanh fixes that', () => {
    const out = runExample('linear-collapse.mjs');
    expect(numberAfter(out, /over 1000 random inputs: (\S+)/)).toBeLessThan(1e-4);
    const linear = section(out, 'XOR, no activation:');
    expect(numberAfter(linear, /accuracy (\d+)%/)).toBeLessThanOrEqual(75);
    expect(Math.abs(numberAfter(linear, /loss (\d+\.\d+)/) - Math.LN2)).toBeLessThan(0.01);
    const nonlinear = section(out, 'XOR, Tanh between the layers:');
    expect(numberAfter(nonlinear, /accuracy (\d+)%/)).toBe(100);
    expect(numberAfter(nonlinear, /loss (\S+),/)).toBeLessThan(0.05);
    const probs = /\(1,1\): ([\d. ]+)/.exec(nonlinear)![1]!.trim().split(' ').map(Number);
    expect(probs.map((p) => (p > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
  });

  it('universal-approximation.mjs: the error falls with width and the chart is written', () => {
    const svgPath = join(scratch, 'nested', 'fit.svg');
    const out = runExample('universal-approximation.mjs', [svgPath]);
    const rows = [...out.matchAll(/hidden units\s+(\d+): MSE on the grid (\d+\.\d+)/g)];
    expect(rows.map((r) => Number(r[1]))).toEqual([2, 8, 32, 128]);
    const mse = rows.map((r) => Number(r[2]));
    for (let i = 1; i < mse.length; i++) expect(mse[i], `MSE at ${rows[i]![1]} units`).toBeLessThan(mse[i - 1]!);
    expect(mse[3]!).toBeLessThan(0.01);
    expect(out).toContain(`chart written to ${svgPath}`);
    const svg = readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<?xml') || svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<svg\b/g)).toHaveLength(1);
    // One line for the target and one per width, each named in the legend.
    for (const width of [2, 8, 32, 128]) expect(svg).toContain(`${width} units (MSE`);
    expect(svg.match(/<path\b[^>]*\bd="M/g)!.length).toBeGreaterThanOrEqual(5);
  });

  it('losses-as-likelihood.mjs: cross-entropy beats MSE-on-softmax on test NLL', () => {
    const out = runExample('losses-as-likelihood.mjs');
    const row = (label: string): number[] => {
      const m = new RegExp(`^  ${label}\\s+(\\d+\\.\\d+)%?\\s+(\\d+\\.\\d+)%?$`, 'm').exec(out);
      if (m === null) throw new Error(`no "${label}" row in:\n${out}`);
      return [Number(m[1]), Number(m[2])];
    };
    const [ceNll, mseNll] = row('test NLL');
    expect(ceNll!).toBeLessThan(mseNll!);
    const [ceAcc, mseAcc] = row('accuracy');
    expect(ceAcc!).toBeGreaterThan(90);
    expect(mseAcc!).toBeGreaterThan(50); // MSE still learns, only more slowly
    const [ceConf, mseConf] = row('mean confidence');
    for (const c of [ceConf!, mseConf!]) expect(c).toBeGreaterThan(10); // above chance (10 classes)
    // The gradient table: cross-entropy's push grows as p(true) falls, MSE's fades.
    const grads = [...out.matchAll(/^\s+(0\.\d{4})\s+(-\d\.\d{5})\s+(-\d\.\d{5})$/gm)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
    expect(grads.length).toBe(4);
    for (let i = 1; i < grads.length; i++) {
      expect(grads[i]![0]!).toBeLessThan(grads[i - 1]![0]!);
      expect(Math.abs(grads[i]![1]!)).toBeGreaterThan(Math.abs(grads[i - 1]![1]!));
      expect(Math.abs(grads[i]![2]!)).toBeLessThan(Math.abs(grads[i - 1]![2]!));
    }
  });

  // The full run (40 epochs, 3 members: ~11 minutes) is measured by hand and reported in the README;
  // here one epoch of two members checks the script end to end, including its saved ensemble.
  const hasFashion = existsSync('/usr/share/datasets/fashion-mnist') || !!process.env['TENSORGRAD_FASHION_MNIST_DIR'];
  const nativeRun = process.env['TENSORGRAD_BACKEND'] !== 'js';
  it.skipIf(!hasFashion || !nativeRun)(
    'fashion-mnist.mjs trains and evaluates a two-member ensemble for one epoch (needs dataset-fashion-mnist and the native backend: the TS backend takes minutes)',
    async () => {
      const out = runExample('fashion-mnist.mjs', ['--epochs', '1', '--members', '2', '--out', join(scratch, 'fashion')]);
      const members = [...out.matchAll(/^member (\d) test accuracy: ([\d.]+)%$/gm)].map((m) => Number(m[2]));
      expect(members).toHaveLength(2);
      for (const a of members) expect(a).toBeGreaterThan(80);
      const ens = numberAfter(out, /^ensemble of 2 test accuracy: ([\d.]+)%/m);
      expect(ens).toBeGreaterThan(80);
      const { loadModel, loadFashionMnist, evaluate, TensorDataset } = await import('../src/index.js');
      const m = await loadModel(join(scratch, 'fashion', 'fashion-mnist-ensemble.safetensors'));
      expect(m.members).toBe(2);
      const test = loadFashionMnist().test;
      const r = await evaluate(m.model, new TensorDataset(m.scaler!.transform(test.tensors[0]), test.tensors[1]));
      expect(r.metrics['accuracy']! * 100).toBeCloseTo(ens, 1);
    },
    120_000,
  );
});
