import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { NativeAddon } from '../src/backend/native.js';

// The linux-x64 prebuild must load wherever the official Node 20/22/24 binaries run: glibc 2.28
// with GCC 8's libstdc++ and libgcc_s (RHEL 8, Debian 10). A needed symbol version above these makes
// dlopen fail there, and the user silently gets the TS backend. CMakeLists.txt and
// native/glibc_compat.cc keep the versions down; this reads what the binaries actually need.
const LIMITS: Record<string, readonly number[]> = {
  GLIBC: [2, 28],
  GLIBCXX: [3, 4, 25],
  CXXABI: [1, 3, 11],
  GCC: [7, 0, 0],
};
// Node looks up these two; everything else stays private (see native/exports.map).
const ENTRY_POINTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function linuxBinaries(): string[] {
  const found: string[] = [];
  const built = join(root, 'build', 'Release', 'tensorgrad.node');
  if (process.platform === 'linux' && existsSync(built)) found.push(built);
  const prebuilds = join(root, 'prebuilds');
  if (existsSync(prebuilds)) {
    for (const dir of readdirSync(prebuilds).filter((d) => d.startsWith('linux-')).sort()) {
      for (const f of readdirSync(join(prebuilds, dir)).filter((n) => n.endsWith('.node')).sort()) {
        // The limits are glibc's; a musl build (tagged .musl.node) answers to its own libc.
        if (!f.includes('.musl.')) found.push(join(prebuilds, dir, f));
      }
    }
  }
  return found;
}

/** The ELF machine of a binary: 'x64' (EM_X86_64), 'arm64' (EM_AARCH64), or its number. */
function elfArch(file: string): string {
  const head = readFileSync(file).subarray(0, 20);
  const machine = head.readUInt16LE(18);
  return machine === 0x3e ? 'x64' : machine === 0xb7 ? 'arm64' : `machine ${machine}`;
}

/**
 * objdump for the binary's architecture: the host's for its own, binutils-aarch64-linux-gnu's for
 * the cross-built linux-arm64 prebuild (installed with g++-aarch64-linux-gnu, which makes it).
 */
function objdump(args: string[]): string {
  const file = args[args.length - 1]!;
  const arch = elfArch(file);
  const tool = arch === process.arch ? 'objdump' : arch === 'arm64' ? 'aarch64-linux-gnu-objdump' : null;
  if (tool === null) throw new Error(`no objdump known for ${file} (${arch})`);
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** "GLIBC_2.29" → the reason it is too new, or null when within LIMITS (or not a tracked family). */
function tooNew(version: string): string | null {
  const m = /^([A-Z]+)_(\d+(?:\.\d+)*)$/.exec(version);
  if (m === null) return null;
  const limit = LIMITS[m[1]!];
  if (limit === undefined) return null;
  const parts = m[2]!.split('.').map(Number);
  return compareVersions(parts, limit) > 0 ? `above ${m[1]}_${limit.join('.')}` : null;
}

interface DynSymbol {
  name: string;
  version: string; // 'Base' when unversioned
  undefined: boolean;
}

/** The dynamic symbol table, as `objdump -T -C` prints it (address, flags, section, size, version, name). */
function parseDynamicSymbols(text: string): DynSymbol[] {
  const out: DynSymbol[] = [];
  for (const line of text.split('\n')) {
    // With -C the (demangled) name is the rest of the line and may contain spaces.
    const m = /^[0-9a-f]{8,16}\s.*?\s(\*UND\*|\.\S+|\*ABS\*)\s+[0-9a-f]+\s+\(?([A-Za-z][\w.]*)\)?\s+(.+)$/.exec(line);
    if (m === null) continue;
    out.push({ name: m[3]!.trim(), version: m[2]!, undefined: m[1] === '*UND*' });
  }
  return out;
}

/** Every version named under "Version References" in `objdump -p`: the loader checks each at load. */
function versionReferences(text: string): { file: string; version: string }[] {
  const out: { file: string; version: string }[] = [];
  let file = '';
  let inside = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('Version References:')) inside = true;
    else if (inside && /^\S/.test(line)) inside = false;
    if (!inside) continue;
    const req = /required from (\S+):/.exec(line);
    if (req !== null) file = req[1]!;
    const ver = /^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)/.exec(line);
    if (ver !== null) out.push({ file, version: ver[1]! });
  }
  return out;
}

const hasObjdump = spawnSync('objdump', ['--version']).status === 0;
const binaries = linuxBinaries();

describe('parseDynamicSymbols', () => {
  it('reads needed versions, unversioned and defined symbols from objdump -T lines', () => {
    const sample = [
      '0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.29) exp',
      '0000000000000000  w   DF *UND*\t0000000000000000 (GLIBC_2.34) __pthread_key_create',
      '0000000000000000      D  *UND*\t0000000000000000  Base        napi_throw',
      '0000000000000000      DF *UND*\t0000000000000000 (GLIBCXX_3.4.30) std::condition_variable::wait(std::unique_lock<std::mutex>&)',
      '000000000000cac0 g    DF .text\t0000000000000026  Base        napi_register_module_v1',
    ].join('\n');
    expect(parseDynamicSymbols(sample)).toEqual([
      { name: 'exp', version: 'GLIBC_2.29', undefined: true },
      { name: '__pthread_key_create', version: 'GLIBC_2.34', undefined: true },
      { name: 'napi_throw', version: 'Base', undefined: true },
      { name: 'std::condition_variable::wait(std::unique_lock<std::mutex>&)', version: 'GLIBCXX_3.4.30', undefined: true },
      { name: 'napi_register_module_v1', version: 'Base', undefined: false },
    ]);
    expect(['GLIBC_2.28', 'GLIBC_2.2.5', 'GLIBCXX_3.4.25', 'CXXABI_1.3.11', 'GCC_7.0.0', 'Base'].map(tooNew)).toEqual([null, null, null, null, null, null]);
    expect(['GLIBC_2.29', 'GLIBC_2.34', 'GLIBCXX_3.4.26', 'CXXABI_1.3.13', 'GCC_12.0.0'].map((v) => tooNew(v) !== null)).toEqual([true, true, true, true, true]);
  });
});

// CI always has a prebuild (.ci/run fails without one) and objdump; a checkout with neither
// reports this suite as skipped, by name.
describe.runIf(hasObjdump && binaries.length > 0)('the Linux binaries load on glibc 2.28 / GCC 8 (needs objdump, from binutils, and a built binary)', () => {

  for (const file of binaries) {
    const rel = relative(root, file);
    it(`${rel}: no needed symbol version above GLIBC_2.28, GLIBCXX_3.4.25, CXXABI_1.3.11, GCC_7.0.0`, () => {
      const symbols = parseDynamicSymbols(objdump(['-T', '-C', file]));
      expect(symbols.length, `no dynamic symbols parsed from objdump -T -C ${rel}`).toBeGreaterThan(0);
      const offending = symbols
        .filter((s) => s.undefined && tooNew(s.version) !== null)
        .map((s) => `${s.name}@${s.version} (${tooNew(s.version)})`);
      const references = versionReferences(objdump(['-p', file]));
      expect(references.length, `no version references parsed from objdump -p ${rel}`).toBeGreaterThan(0);
      for (const r of references) {
        const why = tooNew(r.version);
        if (why !== null) offending.push(`${r.file} ${r.version} (${why})`);
      }
      expect(offending, `${rel} needs symbol versions newer than the oldest supported system`).toEqual([]);
    });

    it(`${rel}: exports only the N-API entry points, and leaves no --wrap reference unresolved`, () => {
      const symbols = parseDynamicSymbols(objdump(['-T', '-C', file]));
      const exported = symbols.filter((s) => !s.undefined).map((s) => s.name).sort();
      expect(exported).toEqual([...ENTRY_POINTS].sort());
      // A __wrap_ name left undefined would only fail when the addon is loaded (or worse, called).
      expect(symbols.filter((s) => s.undefined && s.name.startsWith('__wrap_')).map((s) => s.name)).toEqual([]);
    });
  }
});

// What the binding to old symbol versions changes at run time, checked on each binary: exp, log and
// pow (bound to their pre-2.29 versions, which add SVID error handling on overflow, underflow and
// domain errors) must still give the IEEE results there; threads (pthread wrappers) must start;
// a C++ exception (static libstdc++, shared libgcc_s unwinder) must still become a JS error. Every
// binary is loaded into this one process, each with its own private libstdc++.
// Loaded here: the binaries of this machine's architecture. The cross-built linux-arm64 prebuild
// is loaded and exercised under qemu-aarch64 by `npm run test:arm64` (which CI runs).
const loadable = binaries.filter((f) => elfArch(f) === process.arch);
describe.runIf(process.platform === 'linux' && loadable.length > 0)('the Linux binaries of this architecture still compute', () => {
  const load = createRequire(import.meta.url);
  const cases: { op: 'exp' | 'log' | 'pow'; p0: number; xs: number[] }[] = [
    // 710 and -746 overflow and underflow in double (where the old versions take their error path).
    { op: 'exp', p0: 0, xs: [0, 1, -1, 10.5, 710, -746, Infinity, -Infinity, NaN] },
    { op: 'log', p0: 0, xs: [1, 2, 0.5, 1e-30, 0, -0, -1, Infinity, -Infinity, NaN] },
    { op: 'pow', p0: -1, xs: [4, 0, -0, -2, Infinity, NaN] },
    { op: 'pow', p0: 0.5, xs: [9, 2, -8, 0, Infinity] },
    { op: 'pow', p0: 401, xs: [1, 10, -10, 0.1, -0.1] },
    { op: 'pow', p0: 0, xs: [NaN, 0, -3, Infinity] },
  ];

  for (const file of loadable) {
    const rel = relative(root, file);
    it(`${rel}: exp, log, pow at their edges; threads; errors`, () => {
      const a = load(file) as NativeAddon;
      try {
        expect(a.setIsa('scalar')).toBe('scalar'); // the path that calls libm per element
        for (const { op, p0, xs } of cases) {
          const x = Float32Array.from(xs);
          const out = new Float32Array(x.length);
          a.unary(op, x, out, p0, 0);
          x.forEach((v, i) => {
            const want = Math.fround(op === 'exp' ? Math.exp(v) : op === 'log' ? Math.log(v) : Math.pow(v, p0));
            const got = out[i]!;
            const what = `${op}(${Object.is(v, -0) ? '-0' : v}${op === 'pow' ? `, ${p0}` : ''}) = ${got}, expected ${want}`;
            if (Number.isFinite(want) && want !== 0) expect(Math.abs(got - want) / Math.abs(want), what).toBeLessThanOrEqual(1.2e-7);
            else expect(Object.is(got, want), what).toBe(true);
          });
        }
        a.setIsa('auto');
        a.setNumThreads(3);
        const [m, n, k] = [64, 96, 80];
        const x = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) - 6);
        const y = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) - 5);
        const c = new Float32Array(m * n);
        a.gemm(false, false, m, n, k, 1, x, y, 0, c, null, false);
        // Small integers: the float32 products and sums are exact, so any order gives this.
        let want = 0;
        for (let p = 0; p < k; p++) want += x[(m - 1) * k + p]! * y[p * n + (n - 1)]!;
        expect(c[m * n - 1]).toBe(want);
        expect(a.info().threads).toBe(3);
        expect(() => a.setIsa('sse9')).toThrow(/isa must be/);
      } finally {
        a.setIsa('auto');
      }
    });
  }
});
