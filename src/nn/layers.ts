import { linear, linearRelu } from '../ops/linear.js';
import { dropout } from '../ops/dropout.js';
import { flatten } from '../ops/shape.js';
import { zeros } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { requireBoolean, requireFinite, requireInteger, requireOneOf, requireOptions } from '../ops/args.js';
import { MAX_ELEMENTS, valueStr } from '../shape.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module, parameter } from './module.js';

export interface LinearOptions {
  bias?: boolean;
}

/**
 * y = x·Wᵀ + b with W of shape [out, in], as torch.nn.Linear, initialised as PyTorch does:
 * W from kaimingUniform(a = √5), i.e. U(±1/√in), and b from U(±1/√in).
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

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

/** Runs its modules in order. A Linear directly followed by a ReLU runs as one fused call. */
export class Sequential extends Module {
  readonly layers: Module[];

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

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Module {
    // Array.prototype.at would read 'x' or 1.5 as an index (0, 1) and return a layer.
    requireInteger('Sequential.at', 'index', i);
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} is out of range for ${this.layers.length} layers`);
    return m;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i]!;
      if (m instanceof Linear && this.layers[i + 1] instanceof ReLU && Sequential.fuse) {
        y = m.forwardRelu(y);
        i++;
      } else {
        y = m.forward(y);
      }
    }
    return y;
  }

  /** Set false to run every layer separately (summary() does, to see each layer's output). */
  static fuse = true;
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens dims startDim..endDim (default: all but the batch dim). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
    requireInteger('Flatten', 'startDim', startDim);
    requireInteger('Flatten', 'endDim', endDim);
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
    requireFinite('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    requireOneOf('GELU', 'approximate', approximate, ['none', 'tanh']);
  }
  forward(x: Tensor): Tensor {
    return x.gelu(this.approximate);
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
    requireInteger('Softmax', 'dim', dim);
  }
  forward(x: Tensor): Tensor {
    return x.softmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export class LogSoftmax extends Module {
  constructor(readonly dim = -1) {
    super();
    requireInteger('LogSoftmax', 'dim', dim);
  }
  forward(x: Tensor): Tensor {
    return x.logSoftmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Inverted dropout with probability p, seeded; the identity in eval mode. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a number in [0, 1], got ${valueStr(p)}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
