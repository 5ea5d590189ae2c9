import { isGradEnabled } from '../autograd.js';
import { type ChainStep, linear, linearChain, linearRelu } from '../ops/linear.js';
import { MAX_CHAIN_LAYERS } from '../backend/backend.js';
import { dropout } from '../ops/dropout.js';
import { flatten } from '../ops/shape.js';
import { zeros } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { requireBoolean, requireFinite, requireInteger, requireOneOf, requireOptions } from '../ops/args.js';
import { MAX_ELEMENTS, valueStr } from '../shape.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module, parameter } from './module.js';

/** Options of `new Linear(in, out, options)`. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * y = x·Wᵀ + b with W of shape [out, in], as torch.nn.Linear, initialised as PyTorch does:
 * W from kaimingUniform(a = √5), i.e. U(±1/√in), and b from U(±1/√in).
 * PyTorch: `torch.nn.Linear`.
 * @example
 * ```ts
 * const layer = new Linear(784, 10);
 * const logits = layer.forward(randn([32, 784])); // shape [32, 10]
 * ```
 */
export class Linear extends Module {
  /** The weight parameter, shape [outFeatures, inFeatures]. */
  readonly weight: Tensor;
  /** The bias parameter, shape [outFeatures], or null without bias. */
  readonly bias: Tensor | null;

  /**
   * @param inFeatures - size of each input row
   * @param outFeatures - size of each output row
   * @param options - `bias: false` for no bias
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`Linear: ${name} must be a non-negative integer, got ${valueStr(v)}`);
    }
    // Checked here so the error names Linear, not the zeros() that would allocate the weight.
    if (outFeatures * inFeatures > MAX_ELEMENTS || outFeatures > MAX_ELEMENTS) {
      throw new Error(
        `Linear: a weight [outFeatures, inFeatures] = [${outFeatures}, ${inFeatures}] has ${outFeatures * inFeatures} elements, more than the ${MAX_ELEMENTS} a tensor can hold`,
      );
    }
    const opts = requireOptions('Linear', options);
    if (opts.bias !== undefined) requireBoolean('Linear', 'options.bias', opts.bias);
    this.weight = parameter(kaimingUniform_(zeros([outFeatures, inFeatures]), { a: Math.sqrt(5) }));
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.bias = options.bias === false ? null : parameter(uniform_(zeros([outFeatures]), -bound, bound));
  }

  /**
   * x·Wᵀ + b.
   * @param x - input of shape [..., inFeatures]
   * @returns output of shape [..., outFeatures]
   */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** forward followed by ReLU, in one fused call (bias and ReLU applied inside the GEMM). */
  forwardRelu(x: Tensor): Tensor {
    return linearRelu(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * Runs its modules in order. A Linear directly followed by a ReLU runs as one fused call.
 * PyTorch: `torch.nn.Sequential`.
 * @example
 * ```ts
 * const model = new Sequential(new Linear(2, 8), new ReLU(), new Linear(8, 1));
 * const y = model.forward(tensor([[0, 1]])); // shape [1, 1]
 * ```
 */
export class Sequential extends Module {
  /** The modules, in the order they run. */
  readonly layers: Module[];

  /** @param layers - the modules, first to last */
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new Error(`Sequential: argument ${i} must be a Module, got ${valueStr(m)}`);
    });
    this.layers = layers;
  }

  override *namedChildren(): Generator<[string, Module]> {
    for (let i = 0; i < this.layers.length; i++) yield [String(i), this.layers[i]!];
  }

  /** @internal namedChildren() without the names (see Module._eachChild). */
  override _eachChild(fn: (m: Module) => void): void {
    for (let i = 0; i < this.layers.length; i++) fn(this.layers[i]!);
  }

  /** Number of layers. */
  get length(): number {
    return this.layers.length;
  }

  /**
   * The layer at index i (negative counts from the end).
   * @param i - an integer index
   */
  at(i: number): Module {
    // Array.prototype.at would read 'x' or 1.5 as an index (0, 1) and return a layer.
    requireInteger('Sequential.at', 'index', i);
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} is out of range for ${this.layers.length} layers`);
    return m;
  }

  /**
   * Feeds x through every layer in turn.
   * @param x - input of the first layer
   * @returns output of the last layer
   */
  forward(x: Tensor): Tensor {
    // An intermediate output that only built-in layers ever held (one made it, the next has
    // consumed it) is handed back to the pool as soon as nothing can read it: at once without a
    // graph (noGrad, predict), after backward() with one. The next call writes its activations
    // there instead of into fresh pages (batch-256 inference of the 784-512-256-10 MLP: 11-16%
    // more samples/s; batch-512 training on 2 threads: about 10%). The caller's input and the
    // returned output are never touched, nor anything a user-defined layer has seen.
    const release = !isGradEnabled();
    let y = x;
    let yBuiltin = false; // y was made by built-in layers of this Sequential (not so the input)
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i]!;
      let builtin = keepsNoReference(m);
      let out: Tensor;
      const chain = release && Sequential.fuse ? chainFrom(this.layers, i, y) : null;
      if (chain !== null) {
        out = chain.out;
        i = chain.next - 1;
      } else if (Sequential.fuse && fusable(m, this.layers[i + 1])) {
        out = m.forwardRelu(y);
        builtin = builtin && keepsNoReference(this.layers[i + 1]!);
        i++;
      } else {
        out = m.forward(y);
      }
      if (yBuiltin && builtin && out !== y && out._storage !== y._storage) {
        if (release) y.dispose();
        else y._freeAfterBackward = true;
      }
      y = out;
      yBuiltin = builtin;
    }
    return y;
  }

  /** Set false to run every layer separately (summary() does, to see each layer's output). */
  static fuse = true;
}

/**
 * Without a graph, the run of two or more Linear layers (each maybe followed by a ReLU) starting
 * at layer `start`, as one backend call: the output and the index of the first layer after the
 * run. Null (nothing run) when fewer than two Linear layers start there or the run would fail
 * its checks. Exact classes with their own forward only: a subclass's or a replaced forward must
 * be called.
 */
function chainFrom(layers: readonly Module[], start: number, x: Tensor): { out: Tensor; next: number } | null {
  const steps: ChainStep[] = [];
  let i = start;
  while (i < layers.length && steps.length < MAX_CHAIN_LAYERS) {
    const m = layers[i]!;
    if (!(m instanceof Linear) || m.constructor !== Linear || m.forward !== Linear.prototype.forward) break;
    const next = layers[i + 1];
    const relu = next instanceof ReLU && next.constructor === ReLU && next.forward === ReLU.prototype.forward;
    // The fused path would call this instance's own forwardRelu: leave the pair to it.
    if (relu && m.forwardRelu !== Linear.prototype.forwardRelu) break;
    steps.push({ weight: m.weight, bias: m.bias, relu });
    i += relu ? 2 : 1;
  }
  if (steps.length < 2) return null;
  const out = linearChain(x, steps);
  return out === null ? null : { out, next: i };
}

/**
 * A Linear followed by a ReLU, neither with its own forward (a subclass that overrides forward must
 * have it called: the fused call would skip it).
 */
function fusable(m: Module, next: Module | undefined): m is Linear {
  return m instanceof Linear && m.forward === Linear.prototype.forward && next instanceof ReLU && next.forward === ReLU.prototype.forward;
}

/**
 * Whether m is one of this file's layers exactly (not a subclass, which could keep its input or
 * output): they hold no reference to either after forward, so Sequential may release them.
 */
function keepsNoReference(m: Module): boolean {
  const c = m.constructor;
  return (
    c === Linear || c === ReLU || c === LeakyReLU || c === Sigmoid || c === Tanh || c === GELU || c === Softmax ||
    c === LogSoftmax || c === Dropout || c === Flatten || c === Identity
  );
}

/**
 * @internal Whether m is a tree of this file's layers exactly (Sequential and the classes of
 * keepsNoReference), none with its forward replaced on the instance: then no module holds its
 * input (or a view of it) once forward returns, and an async call may recycle its copy of the
 * input after the passes (when the output is not that copy either).
 */
export function keepsNoInput(m: Module): boolean {
  const forward = m.forward;
  if (m instanceof Sequential && m.constructor === Sequential) {
    return forward === Sequential.prototype.forward && m.layers.every(keepsNoInput);
  }
  return keepsNoReference(m) && forward === (m.constructor as { prototype: Module }).prototype.forward;
}

/** Returns its input unchanged (a placeholder layer). PyTorch: `torch.nn.Identity`. */
export class Identity extends Module {
  /** Returns x. @param x - any tensor */
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens dims startDim..endDim (default: all but the batch dim). PyTorch: `torch.nn.Flatten`. */
export class Flatten extends Module {
  /**
   * @param startDim - first dim to merge (default 1, after the batch dim)
   * @param endDim - last dim to merge, inclusive (default -1)
   */
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
    requireInteger('Flatten', 'startDim', startDim);
    requireInteger('Flatten', 'endDim', endDim);
  }
  /** Merges dims startDim..endDim of x. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** max(x, 0) elementwise. PyTorch: `torch.nn.ReLU`. */
export class ReLU extends Module {
  /** Applies ReLU. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** x for x ≥ 0, negativeSlope·x below. PyTorch: `torch.nn.LeakyReLU`. */
export class LeakyReLU extends Module {
  /** @param negativeSlope - slope for negative inputs (default 0.01) */
  constructor(readonly negativeSlope = 0.01) {
    super();
    requireFinite('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  /** Applies leaky ReLU. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** 1 / (1 + e^-x) elementwise. PyTorch: `torch.nn.Sigmoid`. */
export class Sigmoid extends Module {
  /** Applies the sigmoid. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** Hyperbolic tangent elementwise. PyTorch: `torch.nn.Tanh`. */
export class Tanh extends Module {
  /** Applies tanh. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/** Gaussian error linear unit. PyTorch: `torch.nn.GELU`. */
export class GELU extends Module {
  /** @param approximate - `'none'` (default: exact, with erf) or `'tanh'` */
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    requireOneOf('GELU', 'approximate', approximate, ['none', 'tanh']);
  }
  /** Applies GELU. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.gelu(this.approximate);
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** Softmax along a dim. PyTorch: `torch.nn.Softmax`. */
export class Softmax extends Module {
  /** @param dim - the dim to normalise (default -1, the last) */
  constructor(readonly dim = -1) {
    super();
    requireInteger('Softmax', 'dim', dim);
  }
  /** Applies softmax along `dim`. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.softmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** log(softmax(x)) along a dim, computed stably. PyTorch: `torch.nn.LogSoftmax`. */
export class LogSoftmax extends Module {
  /** @param dim - the dim to normalise (default -1, the last) */
  constructor(readonly dim = -1) {
    super();
    requireInteger('LogSoftmax', 'dim', dim);
  }
  /** Applies log-softmax along `dim`. @param x - input tensor */
  forward(x: Tensor): Tensor {
    return x.logSoftmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * Inverted dropout with probability p, seeded; the identity in eval mode.
 * PyTorch: `torch.nn.Dropout`.
 */
export class Dropout extends Module {
  /** @param p - probability of zeroing each element, in [0, 1] (default 0.5) */
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a number in [0, 1], got ${valueStr(p)}`);
  }
  /**
   * In training mode zeroes each element with probability p and scales the rest by 1/(1-p);
   * returns x in eval mode.
   * @param x - input tensor
   */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
