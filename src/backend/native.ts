import { createRequire } from 'node:module';
import { type AdamHyper, type Backend, type RmspropHyper, type SgdHyper, SMALL_CHAIN_RESULT } from './backend.js';
import { fingerprint as jsFingerprint } from './js/fingerprint.js';
import { rmspropStep as jsRmspropStep, sgdStep as jsSgdStep } from './js/fused.js';
import * as jsLosses from './js/losses.js';
import * as jsGather from './js/gather.js';
import * as jsRandom from './js/random.js';
import { composedLinearChain } from './linear-chain.js';
import { packageRoot } from './root.js';
import { freshFloat32 } from '../shape.js';

/** The functions the addon (native/addon.cc) exports. Every one validates its arguments. */
/** Adam's hyper-parameters as the addon's adamStep and adamSteps take them, in their order. */
type AdamArgs = [lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, amsgrad: boolean];

function adamArgs(hp: Omit<AdamHyper, 'step'>): AdamArgs {
  return [hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.decoupled, hp.amsgrad];
}

export interface NativeAddon {
  info(): { isa: string; threads: number; detectedIsa: string };
  setNumThreads(n: number): void;
  setIsa(isa: string): string;
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    b: Float32Array,
    beta: number,
    c: Float32Array,
    bias: Float32Array | null,
    relu: boolean,
    packedB?: Float32Array | null,
  ): void;
  /** packWeight's size for a weight [n, k]; absent from binaries built before packed weights. */
  packedWeightSize?(n: number, k: number): number;
  packWeight?(n: number, k: number, w: Float32Array, dst: Float32Array): void;
  packedWeightMinRows?(): number;
  /** Same signature as Backend.linearBackward; absent from binaries built before it existed. */
  linearBackward?: Backend['linearBackward'];
  /**
   * Backend.linearChain with the layers spread as (outF, w, bias) triples after the ReLU bit mask
   * (one N-API call reads its arguments faster than array elements); absent from older binaries.
   */
  linearChain?(
    rows: number,
    inF: number,
    x: Float32Array,
    out: Float32Array,
    reluMask: number,
    ...layers: (number | Float32Array | null | (Float32Array | null)[])[]
  ): void;
  // Same signatures as the Backend methods they serve.
  binary: Backend['binary'];
  unary: Backend['unary'];
  unaryGrad: Backend['unaryGrad'];
  sumTo: Backend['sumTo'];
  reduce: Backend['reduce'];
  softmax: Backend['softmax'];
  softmaxGrad: Backend['softmaxGrad'];
  permute: Backend['permute'];
  crossEntropy: Backend['crossEntropy'];
  /** Absent from binaries built before it existed; the TypeScript kernel stands in then. */
  fingerprint?: Backend['fingerprint'];
  /** Absent from binaries built before it existed: large arrays then keep the system's page size. */
  adviseHugePages?: NonNullable<Backend['adviseHugePages']>;
  /** Absent from binaries built before it existed: arrays then start where the C allocator put them. */
  alignPad?: NonNullable<Backend['alignPad']>;
  /** Absent from binaries built before it existed: their scratch stays until the process ends. */
  releaseScratch?: NonNullable<Backend['releaseScratch']>;
  /** The loss and random-fill kernels (same signatures as Backend's); absent from older binaries. */
  nllLoss?: Backend['nllLoss'];
  nllLossGrad?: Backend['nllLossGrad'];
  bceLoss?: Backend['bceLoss'];
  bceLossGrad?: Backend['bceLossGrad'];
  fillUniform?: Backend['fillUniform'];
  dropoutMask?: Backend['dropoutMask'];
  /** Gathers, scatters, block copies and partial norms (same signatures); absent from older binaries. */
  gatherRows?: Backend['gatherRows'];
  scatterAddRows?: Backend['scatterAddRows'];
  copyBlocks?: Backend['copyBlocks'];
  scatterArg?: Backend['scatterArg'];
  shareEqual?: Backend['shareEqual'];
  normPart?: Backend['normPart'];
  /**
   * Runs a batch of kernel calls, each [name, ...the arguments of that entry point], in order on a
   * libuv thread; every command is checked before any runs. Absent from binaries built before it
   * existed (async calls then run on the JS thread).
   */
  runAsync?(commands: readonly (readonly unknown[])[]): Promise<void>;
  /** Adam with its hyper-parameters spread out as numbers (no object crossing into C++). */
  adamStep(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    vmax: Float32Array | null,
    ...hpAndStep: [...AdamArgs, step: number]
  ): void;
  /**
   * adamStep over a parameter group: the hyper-parameters, a Float64Array of the slots' step
   * counts, then each slot's p, g, m, v (and vmax with amsgrad) as further arguments (see
   * Backend.adamSteps); absent from older binaries.
   */
  adamSteps?(...args: [...AdamArgs, steps: Float64Array, ...buffers: Float32Array[]]): void;
  /** SGD with its hyper-parameters spread out (see Backend.sgdStep); absent from older binaries. */
  sgdStep?(
    p: Float32Array,
    g: Float32Array,
    buf: Float32Array | null,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
    maximize: boolean,
    first: boolean,
  ): void;
  /** RMSprop with its hyper-parameters spread out (see Backend.rmspropStep); absent from older binaries. */
  rmspropStep?(
    p: Float32Array,
    g: Float32Array,
    sq: Float32Array,
    gradAvg: Float32Array | null,
    buf: Float32Array | null,
    lr: number,
    alpha: number,
    eps: number,
    weightDecay: number,
    momentum: number,
    maximize: boolean,
  ): void;
}

let addon: NativeAddon | null | undefined;
let loadError: string | null = null;

/** Loads the addon once (a prebuild or a local build, found by node-gyp-build); null if none loads. */
export function loadAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  try {
    const require = createRequire(packageRoot() + '/package.json');
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = load(packageRoot());
  } catch (e) {
    loadError = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    addon = null;
  }
  return addon;
}

/** Why the addon did not load (for the one warning the library prints). */
export function addonLoadError(): string | null {
  return loadError;
}

/** Backend.linearBackward from the addon's separate kernels, for binaries that lack the fused entry. */
function composedLinearBackward(a: NativeAddon): Backend['linearBackward'] {
  return (rows, outF, inF, g, y, x, w, gy, gx, gw, gb) => {
    let d = g;
    if (y !== null && gy !== null) {
      a.unaryGrad('relu', y, y, g, gy, 0, 0);
      d = gy;
    }
    if (gb !== null) a.reduce('sum', d, 1, rows, outF, gb, null);
    if (gx !== null && w !== null) a.gemm(false, false, rows, inF, outF, 1, d, w, 0, gx, null, false);
    if (gw !== null && x !== null) a.gemm(true, false, outF, inF, rows, 1, d, x, 0, gw, null, false);
  };
}

/** The most parameters one addon adamSteps call takes (5 arguments each with amsgrad). */
export const ADAM_SLOTS_PER_CALL = 4096;

/** Backend.linearChain through the addon's one-call entry. */
function nativeLinearChain(entry: NonNullable<NativeAddon['linearChain']>, packs: boolean): Backend['linearChain'] {
  return (rows, inF, x, layers, out) => {
    // The usual MLPs without packed weights (batch 1-8, where a call's JS is a large share of
    // its time) spread their arguments directly: building the argument array and spreading it
    // made garbage that, at batch 1, evicted weights the next call meant to find in cache. Batch-1
    // forward with and without this path, toggled in one process (16 rounds, Intel VM, 1 thread):
    // 784-512-256-10 1.5% faster, 16-16-16-10 7%.
    const n = layers.length;
    if (n <= 4) {
      const l0 = layers[0]!;
      const l1 = n > 1 ? layers[1]! : l0;
      const l2 = n > 2 ? layers[2]! : l0;
      const l3 = n > 3 ? layers[3]! : l0;
      if (!l0.packed && !l1.packed && !l2.packed && !l3.packed) {
        const mask = (l0.relu ? 1 : 0) | (n > 1 && l1.relu ? 2 : 0) | (n > 2 && l2.relu ? 4 : 0) | (n > 3 && l3.relu ? 8 : 0);
        if (n === 3) entry(rows, inF, x, out, mask, l0.outF, l0.w, l0.bias, l1.outF, l1.w, l1.bias, l2.outF, l2.w, l2.bias);
        else if (n === 2) entry(rows, inF, x, out, mask, l0.outF, l0.w, l0.bias, l1.outF, l1.w, l1.bias);
        else if (n === 4) entry(rows, inF, x, out, mask, l0.outF, l0.w, l0.bias, l1.outF, l1.w, l1.bias, l2.outF, l2.w, l2.bias, l3.outF, l3.w, l3.bias);
        else entry(rows, inF, x, out, mask, l0.outF, l0.w, l0.bias);
        return;
      }
    }
    const args: (number | Float32Array | null | (Float32Array | null)[])[] = [];
    let mask = 0;
    let packed: (Float32Array | null)[] | null = null;
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i]!;
      args.push(l.outF, l.w, l.bias);
      if (l.relu) mask |= 1 << i;
      if (packs && l.packed) (packed ??= layers.map(() => null))[i] = l.packed;
    }
    // The packed weights as one trailing array, only when there are any (and the binary reads it).
    if (packed !== null) args.push(packed);
    entry(rows, inF, x, out, mask, ...args);
  };
}

/**
 * Backend.linearChainSmall over the chain above: the kernel writes a buffer kept for the purpose
 * (one view per length, so the addon's length check holds), which is copied into a fresh array
 * of V8's heap. The copy is taken before anything else can run, so consecutive results never share it.
 */
function nativeLinearChainSmall(chain: Backend['linearChain']): NonNullable<Backend['linearChainSmall']> {
  const stage = new ArrayBuffer(4 * SMALL_CHAIN_RESULT);
  const views: Float32Array[] = [];
  for (let n = 0; n <= SMALL_CHAIN_RESULT; n++) views.push(new Float32Array(stage, 0, n));
  return (rows, inF, x, layers) => {
    const n = rows * layers[layers.length - 1]!.outF;
    if (n > SMALL_CHAIN_RESULT) throw new Error(`linearChainSmall: a result of ${n} elements is over ${SMALL_CHAIN_RESULT}`);
    const view = views[n]!;
    chain(rows, inF, x, layers, view);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view[i]!;
    return out;
  };
}

/** Backend.packWeight through the addon, into an array of the library's (aligned, as every large one). */
function nativePackWeight(a: NativeAddon): Backend['packWeight'] {
  if (typeof a.packWeight !== 'function' || typeof a.packedWeightSize !== 'function') return undefined;
  return (n, k, w) => {
    const dst = freshFloat32(a.packedWeightSize!(n, k));
    a.packWeight!(n, k, w, dst);
    return dst;
  };
}

/** The native backend: the addon's kernels behind the Backend interface. */
export function nativeBackend(a: NativeAddon): Backend {
  const packs = typeof a.packWeight === 'function';
  const linear: Backend['linear'] = packs
    ? (m, n, k, x, w, bias, relu, c, packed) => a.gemm(false, true, m, n, k, 1, x, w, 0, c, bias, relu, packed ?? null)
    : (m, n, k, x, w, bias, relu, c) => a.gemm(false, true, m, n, k, 1, x, w, 0, c, bias, relu);
  const chain = typeof a.linearChain === 'function' ? nativeLinearChain(a.linearChain.bind(a), packs) : composedLinearChain(linear);
  return {
    name: 'native',
    info: () => {
      const i = a.info();
      return { backend: 'native', isa: i.isa, threads: i.threads };
    },
    gemm: (transA, transB, m, n, k, alpha, x, y, beta, c) => a.gemm(transA, transB, m, n, k, alpha, x, y, beta, c, null, false),
    linear,
    linearBackward: a.linearBackward?.bind(a) ?? composedLinearBackward(a),
    linearChain: chain,
    linearChainSmall: nativeLinearChainSmall(chain),
    packWeight: nativePackWeight(a),
    // Read once: it moves only with setIsa (tests), and then only what is worth packing changes.
    packedWeightMinRows: typeof a.packedWeightMinRows === 'function' ? a.packedWeightMinRows() : undefined,
    setNumThreads: (n) => a.setNumThreads(n),
    binary: (op, x, xs, y, ys, out, os) => a.binary(op, x, xs, y, ys, out, os),
    unary: (op, x, out, p0, p1) => a.unary(op, x, out, p0, p1),
    unaryGrad: (op, x, y, gy, gx, p0, p1) => a.unaryGrad(op, x, y, gy, gx, p0, p1),
    sumTo: (x, xs, out, os) => a.sumTo(x, xs, out, os),
    reduce: (op, x, outer, n, inner, out, arg) => a.reduce(op, x, outer, n, inner, out, arg),
    softmax: (x, outer, n, inner, out, log) => a.softmax(x, outer, n, inner, out, log),
    softmaxGrad: (y, gy, outer, n, inner, gx, log) => a.softmaxGrad(y, gy, outer, n, inner, gx, log),
    permute: (x, shape, axes, out) => a.permute(x, shape, axes, out),
    crossEntropy: (...args) => a.crossEntropy(...args),
    adamStep: (p, g, m, v, vmax, hp: AdamHyper) =>
      a.adamStep(p, g, m, v, vmax, ...adamArgs(hp), hp.step),
    adamSteps:
      typeof a.adamSteps === 'function'
        ? (slots, hp) => {
            // The buffers go as the call's own arguments, which V8 caps (a spread of 200,000
            // overflowed the stack): groups larger than ADAM_SLOTS_PER_CALL take several calls,
            // which changes nothing but the number of crossings (the slots are independent).
            const head = adamArgs(hp);
            for (let start = 0; start < slots.length; start += ADAM_SLOTS_PER_CALL) {
              const n = Math.min(ADAM_SLOTS_PER_CALL, slots.length - start);
              const steps = new Float64Array(n);
              const buffers: Float32Array[] = [];
              for (let i = 0; i < n; i++) {
                const s = slots[start + i]!;
                steps[i] = s.step;
                buffers.push(s.p, s.g, s.m, s.v);
                // A missing amsgrad state reaches the addon as a non-array argument, which it refuses.
                if (hp.amsgrad) buffers.push(s.vmax as Float32Array);
              }
              a.adamSteps!(...head, steps, ...buffers);
            }
          }
        : (slots, hp) => {
            const head = adamArgs(hp);
            for (const s of slots) a.adamStep(s.p, s.g, s.m, s.v, s.vmax, ...head, s.step);
          },
    sgdStep:
      typeof a.sgdStep === 'function'
        ? (p, g, buf, hp: SgdHyper) => a.sgdStep!(p, g, buf, hp.lr, hp.momentum, hp.dampening, hp.weightDecay, hp.nesterov, hp.maximize, hp.first)
        : jsSgdStep,
    rmspropStep:
      typeof a.rmspropStep === 'function'
        ? (p, g, sq, ga, buf, hp: RmspropHyper) => a.rmspropStep!(p, g, sq, ga, buf, hp.lr, hp.alpha, hp.eps, hp.weightDecay, hp.momentum, hp.maximize)
        : jsRmspropStep,
    nllLoss: a.nllLoss?.bind(a) ?? jsLosses.nllLoss,
    nllLossGrad: a.nllLossGrad?.bind(a) ?? jsLosses.nllLossGrad,
    bceLoss: a.bceLoss?.bind(a) ?? jsLosses.bceLoss,
    bceLossGrad: a.bceLossGrad?.bind(a) ?? jsLosses.bceLossGrad,
    fillUniform: a.fillUniform?.bind(a) ?? jsRandom.fillUniform,
    dropoutMask: a.dropoutMask?.bind(a) ?? jsRandom.dropoutMask,
    gatherRows: a.gatherRows?.bind(a) ?? jsGather.gatherRows,
    scatterAddRows: a.scatterAddRows?.bind(a) ?? jsGather.scatterAddRows,
    copyBlocks: a.copyBlocks?.bind(a) ?? jsGather.copyBlocks,
    scatterArg: a.scatterArg?.bind(a) ?? jsGather.scatterArg,
    shareEqual: a.shareEqual?.bind(a) ?? jsGather.shareEqual,
    normPart: a.normPart?.bind(a) ?? jsGather.normPart,
    fingerprint: typeof a.fingerprint === 'function' ? (x) => a.fingerprint!(x) : jsFingerprint,
    ...(typeof a.adviseHugePages === 'function' ? { adviseHugePages: a.adviseHugePages.bind(a) } : {}),
    ...(typeof a.releaseScratch === 'function' ? { releaseScratch: a.releaseScratch.bind(a) } : {}),
    ...(typeof a.alignPad === 'function' ? { alignPad: a.alignPad.bind(a) } : {}),
  };
}
