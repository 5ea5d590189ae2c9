import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getBackend, setBackend } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { loadAddon, nativeBackend } from '../src/backend/native.js';
import { emptyCache, givePooled } from '../src/pool.js';
import { allocFloat32, LARGE_ARRAY_ELEMENTS, setLargeArrayAdvisor } from '../src/shape.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const addon = loadAddon();
const MiB = 2 ** 20;

// The kernel's THP mode: 'always', 'madvise' or 'never' (the bracketed word), or null off Linux.
function thpMode(): string | null {
  const f = '/sys/kernel/mm/transparent_hugepage/enabled';
  if (!existsSync(f)) return null;
  return /\[(\w+)\]/.exec(readFileSync(f, 'utf8'))?.[1] ?? null;
}
const thp = thpMode();

describe('large fresh arrays go to the large-array advisor', () => {
  const seen: Float32Array[] = [];
  const previous = setLargeArrayAdvisor((a) => seen.push(a));
  afterEach(() => {
    seen.length = 0;
    emptyCache();
  });
  afterAll(() => setLargeArrayAdvisor(previous));

  it('from LARGE_ARRAY_ELEMENTS up, once each', () => {
    const big = allocFloat32('test', LARGE_ARRAY_ELEMENTS);
    const small = allocFloat32('test', LARGE_ARRAY_ELEMENTS - 1);
    expect(small.length).toBe(LARGE_ARRAY_ELEMENTS - 1);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(big);
  });

  it('not again when the array comes back from the pool', () => {
    const big = allocFloat32('test', LARGE_ARRAY_ELEMENTS + 16);
    givePooled(big);
    const again = allocFloat32('test', LARGE_ARRAY_ELEMENTS + 16, false);
    expect(again).toBe(big);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(big);
  });
});

describe.runIf(addon !== null)('native adviseHugePages', () => {
  const a = addon!;

  it('rejects anything but a Float32Array with a JS error', () => {
    expect(() => a.adviseHugePages!(new Float64Array(8) as unknown as Float32Array)).toThrow(/adviseHugePages: a must be a Float32Array/);
    expect(() => (a.adviseHugePages as unknown as () => number)()).toThrow(/adviseHugePages/);
  });

  it('advises nothing in an array too small to hold a whole 2 MiB page', () => {
    expect(a.adviseHugePages!(new Float32Array(0))).toBe(0);
    expect(a.adviseHugePages!(new Float32Array(1000))).toBe(0);
    expect(a.adviseHugePages!(new Float32Array(MiB / 2 - 1))).toBe(0);
  });

  it.runIf(thp !== null && thp !== 'never')('advises the whole 2 MiB pages inside a large array and leaves its values alone', () => {
    const n = 5 * MiB + 7; // 20 MiB and a bit: 9 or 10 whole huge pages whatever its alignment
    const x = new Float32Array(n);
    for (let i = 0; i < n; i += 4099) x[i] = i;
    const bytes = a.adviseHugePages!(x);
    expect(bytes % (2 * MiB)).toBe(0);
    expect(bytes).toBeGreaterThanOrEqual(18 * MiB);
    expect(bytes).toBeLessThanOrEqual(x.byteLength);
    for (let i = 0; i < n; i += 4099) expect(x[i]).toBe(i);
    let zeros = 0;
    for (let i = 0; i < n; i++) if (x[i] === 0 && i % 4099 !== 0) zeros++;
    expect(zeros).toBe(n - Math.ceil(n / 4099));
  });

  it('setBackend turns the advice on for the native backend and off for the TypeScript one', () => {
    const before = getBackend();
    const saved = setLargeArrayAdvisor(undefined);
    try {
      setBackend(jsBackend);
      expect(setLargeArrayAdvisor(undefined)).toBeUndefined();
      setBackend(nativeBackend(a));
      const installed = setLargeArrayAdvisor(undefined);
      if (process.env['TENSORGRAD_HUGE_PAGES'] === '0') expect(installed).toBeUndefined();
      else expect(installed).toBeTypeOf('function');
    } finally {
      setBackend(before);
      setLargeArrayAdvisor(saved);
    }
  });

  // A fresh process each: the advisor is installed when the library picks its backend.
  // AnonHugePages counts the process's anonymous memory backed by huge pages.
  const probe = `const tg = require(${JSON.stringify(join(root, 'dist/cjs/index.js'))});
    const huge = () => Number(/AnonHugePages:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]) * 1024;
    const before = huge();
    const y = tg.zeros([2048, 2048]).add(1);
    console.log(JSON.stringify({ grew: huge() - before, sum: y.sum().item() }));`;
  const run = (env: Record<string, string>) => {
    const e: NodeJS.ProcessEnv = { ...process.env, TENSORGRAD_BACKEND: 'native' };
    delete e['TENSORGRAD_HUGE_PAGES'];
    const r = spawnSync(process.execPath, ['-e', probe], { env: { ...e, ...env }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { grew: number; sum: number };
  };

  // Only where huge pages are given on request ('madvise'): under 'always' every large mapping gets
  // them whatever the library does, under 'never' none does.
  it.runIf(thp === 'madvise')('a fresh 16 MiB tensor is backed by huge pages', () => {
    const on = run({});
    expect(on.sum).toBe(2048 * 2048);
    expect(on.grew).toBeGreaterThanOrEqual(4 * MiB);
  });

  it.runIf(thp === 'madvise')('TENSORGRAD_HUGE_PAGES=0 leaves large tensors in base pages', () => {
    const off = run({ TENSORGRAD_HUGE_PAGES: '0' });
    expect(off.sum).toBe(2048 * 2048);
    expect(off.grew).toBeLessThan(2 * MiB);
  });
});
