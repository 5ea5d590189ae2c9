import type { Backend, BackendInfo } from './backend.js';
import { jsBackend } from './js/index.js';
import { addonLoadError, loadAddon, nativeBackend as wrapAddon } from './native.js';
import { setScratchReleaser, setSmallArraysOffHeap } from '../pool.js';
import { setAligner, setLargeArrayAdvisor } from '../shape.js';

export type { Backend, BackendInfo } from './backend.js';

type BackendName = 'js' | 'native';

function loadNative(): Backend | null {
  const a = loadAddon();
  return a ? wrapAddon(a) : null;
}

let native: Backend | null | undefined;
function nativeBackend(): Backend | null {
  if (native === undefined) native = loadNative();
  return native;
}

function requested(): BackendName | undefined {
  const v = process.env['TENSORGRAD_BACKEND'];
  if (v === undefined || v === '') return undefined;
  if (v === 'js' || v === 'native') return v;
  throw new Error(`TENSORGRAD_BACKEND must be 'js' or 'native', got '${v}'`);
}

let warned = false;
/**
 * Says once, on stderr, that the TypeScript backend runs instead of the native one. Written
 * directly rather than through process.emitWarning, which prints only after the current
 * synchronous work (a whole training run, in a script). Node's --no-warnings and
 * NODE_NO_WARNINGS=1 silence it as they silence warnings.
 */
function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  const silenced = process.env['NODE_NO_WARNINGS'] === '1' || process.execArgv.includes('--no-warnings');
  if (!silenced) process.stderr.write(`${message}\n`);
}

/**
 * Large fresh tensor arrays get transparent huge pages through the addon (as numpy's arrays do),
 * unless TENSORGRAD_HUGE_PAGES=0. On a VM, faulting in 64 MiB of fresh memory took 185 ms in 4 KiB
 * pages and 10 ms in 2 MiB ones, and a 2048^3 matmul ran 10% faster on huge-page operands.
 */
function useHugePages(nb: Backend): void {
  if (process.env['TENSORGRAD_HUGE_PAGES'] === '0' || nb.adviseHugePages === undefined) {
    setLargeArrayAdvisor(undefined);
    return;
  }
  setLargeArrayAdvisor(nb.adviseHugePages.bind(nb));
}

/**
 * emptyCache() frees the scratch of every backend this process has loaded, whichever is current:
 * the addon's buffers, and the TypeScript backend's buffer shared with its GEMM workers.
 */
setScratchReleaser(() => {
  jsBackend.releaseScratch?.();
  native?.releaseScratch?.();
});

function choose(): Backend {
  const want = requested();
  if (want === 'js') return jsBackend;
  const nb = nativeBackend();
  if (nb) {
    useHugePages(nb);
    setSmallArraysOffHeap(true);
    setAligner(nb.alignPad?.bind(nb));
    return nb;
  }
  warnOnce(
    want === 'native'
      ? `tensorgrad: TENSORGRAD_BACKEND=native but the native addon could not be loaded (${addonLoadError()}); using the TypeScript backend`
      : `tensorgrad: native addon not available (${addonLoadError()}); using the pure TypeScript backend`,
  );
  return jsBackend;
}

let current: Backend | undefined;

/** The backend every op runs on, chosen on first use. */
export function getBackend(): Backend {
  if (current === undefined) current = choose();
  return current;
}

/**
 * Records this copy of the library in a process-wide (per thread) registry and, when another copy
 * is there already, says so once on stderr. The ES module and CommonJS entries are two copies with
 * their own classes and state: a Tensor of one is not a Tensor to the other, so a program that
 * both imports and requires tensorgrad (a mixed codebase) would otherwise fail later with a
 * puzzling "expected a Tensor, got Tensor".
 */
export function registerCopy(format: string, where: string): void {
  const key = Symbol.for('tensorgrad.copies');
  const g = globalThis as unknown as Record<symbol, { format: string; where: string }[] | undefined>;
  const copies = (g[key] ??= []);
  copies.push({ format, where });
  if (copies.length === 2) {
    const [a, b] = copies as [{ format: string; where: string }, { format: string; where: string }];
    process.stderr.write(
      `tensorgrad: loaded twice in this process, as ${a.format} (${a.where}) and as ${b.format} (${b.where}); ` +
        "tensors, modules and optimizers of one copy can't be used with the other. Load it one way " +
        '(import, or require) throughout the program.\n',
    );
  }
}

/**
 * Picks the backend now, so that a fallback to TypeScript is announced when the library is
 * imported rather than at the first op. Never throws: a bad TENSORGRAD_BACKEND is reported by the
 * first op instead, with the usual error.
 */
export function announceBackend(): void {
  try {
    getBackend();
  } catch {
    // reported again, as an error, by the first getBackend() that needs it
  }
}

/**
 * Switches the global backend (tests use it to run one suite per backend). Huge pages follow: on
 * for a backend that can advise them, off for the TypeScript one; any other backend without the
 * advisor leaves them as they were. Small arrays get their own buffers (see pool.ts) exactly when
 * the backend is native (the async recorder, standing in for the native backend while it records,
 * carries its name).
 */
export function setBackend(backend: Backend): void {
  current = backend;
  setSmallArraysOffHeap(backend.name === 'native');
  if (backend.name === 'js') setAligner(undefined);
  else if (backend.alignPad !== undefined) setAligner(backend.alignPad.bind(backend));
  if (backend.name === 'js') setLargeArrayAdvisor(undefined);
  else if (backend.adviseHugePages !== undefined) useHugePages(backend);
}

/**
 * Every backend this process can run: only the one TENSORGRAD_BACKEND names when it is set,
 * otherwise native (if it loads) and js.
 */
export function availableBackends(): Backend[] {
  const want = requested();
  if (want !== undefined) return [getBackend()];
  const nb = nativeBackend();
  return nb ? [nb, jsBackend] : [jsBackend];
}

/**
 * Which backend runs, on which instruction set, with how many threads.
 *
 * @example
 * ```ts
 * console.log(backendInfo()); // { backend: 'native', isa: 'avx2', threads: 8 }
 * ```
 */
export function backendInfo(): BackendInfo {
  return getBackend().info();
}

/**
 * Sets how many threads the kernels use (default: the machine's available parallelism, or env
 * TENSORGRAD_NUM_THREADS): the native thread pool, and the worker threads the TypeScript
 * backend splits its large matrix products over (its other kernels run on the calling thread).
 * Results are bitwise the same for any count. PyTorch: `torch.set_num_threads`.
 *
 * @param n - kernel threads, an integer in [1, 1024]
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`setNumThreads: n must be an integer in [1, 1024], got ${n}`);
  for (const b of availableBackends()) b.setNumThreads(n);
}
