import { type GradNode, runBackward } from './autograd.js';
import { getBackend } from './backend/index.js';
import { formatTensor } from './format.js';
import * as act from './ops/activation.js';
import * as ew from './ops/elementwise.js';
import * as idx from './ops/indexing.js';
import { matmul } from './ops/matmul.js';
import * as red from './ops/reduce.js';
import * as shp from './ops/shape.js';
import * as sm from './ops/softmax.js';
import { type Shape, checkShape, shapeStr, sizeOf } from './shape.js';

/** Nested number arrays, as accepted by `tensor()` and returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

/** A tensor or a plain number (treated as a 0-d tensor and broadcast). */
export type TensorLike = Tensor | number;

/** Anything `indexSelect` accepts as row indices. */
export type IndexLike = Tensor | Int32Array | readonly number[];

/**
 * A float32 tensor: a row-major, contiguous Float32Array with a shape, and the autograd state.
 * Tensors are ordinary garbage-collected objects: nothing needs disposing.
 */
export class Tensor {
  /** The values, row-major. Reshaped views share it; writing to it is visible through them. */
  readonly data: Float32Array;
  readonly shape: Shape;
  /** Whether gradients flow to this tensor. Set on leaves by the user; propagated by ops. */
  requiresGrad: boolean;
  /** Accumulated gradient (same shape), filled by backward() on leaves and retainGrad() tensors. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, null for leaves (and for anything made under noGrad). */
  gradFn: GradNode | null = null;
  /** Set by retainGrad(): keep .grad on a non-leaf tensor too. */
  retainsGrad = false;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    checkShape('Tensor', shape);
    if (data.length !== sizeOf(shape)) {
      throw new Error(`Tensor: data has ${data.length} elements but shape ${shapeStr(shape)} needs ${sizeOf(shape)}`);
    }
    this.data = data;
    this.shape = Object.freeze(shape.slice());
    this.requiresGrad = requiresGrad;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  /** True unless this tensor was produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${shapeStr(this.shape)} has ${this.size} elements, expected 1`);
    return this.data[0]!;
  }

  /** The values as nested arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return this.data[offset]!;
      const n = this.shape[dim]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array<NestedArray>(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }

  toString(): string {
    return formatTensor(this);
  }

  /** Same data, cut from the graph: no gradient flows through the result. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** A copy with its own buffer (not recorded). */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape, false);
  }

  /** Sets requiresGrad in place and returns this (for chaining, like PyTorch's requires_grad_). */
  requiresGrad_(value = true): this {
    if (!value && this.gradFn !== null) {
      throw new Error('requiresGrad_(false): only leaf tensors can stop requiring grad; use detach()');
    }
    this.requiresGrad = value;
    return this;
  }

  /** Keep .grad on this tensor after backward() even though it is not a leaf. */
  retainGrad(): this {
    if (!this.requiresGrad) throw new Error('retainGrad: tensor does not require grad');
    this.retainsGrad = true;
    return this;
  }

  /**
   * Back-propagates from this tensor. Without an argument the tensor must hold one element
   * (a loss); otherwise `grad` is the upstream gradient, of this tensor's shape.
   */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad) {
      throw new Error(
        'backward: this tensor does not require grad and has no grad function (were its inputs created with requiresGrad: true, outside noGrad?)',
      );
    }
    let g: Tensor;
    if (grad === undefined) {
      if (this.size !== 1) {
        throw new Error(
          `backward: grad can be implicitly created only for scalar outputs; this tensor has shape ${shapeStr(this.shape)}, pass an upstream gradient`,
        );
      }
      g = new Tensor(new Float32Array(this.size).fill(1), this.shape);
    } else {
      if (grad.shape.length !== this.shape.length || grad.shape.some((d, i) => d !== this.shape[i])) {
        throw new Error(`backward: gradient shape ${shapeStr(grad.shape)} does not match tensor shape ${shapeStr(this.shape)}`);
      }
      g = grad;
    }
    runBackward(this, g, (a, b) => ew.add(a, b));
  }

  /** Adds g into .grad (copying the first time, since g may be shared by other tensors). */
  accumulateGrad(g: Tensor): void {
    if (g.size !== this.size) {
      throw new Error(`backward: gradient of shape ${shapeStr(g.shape)} reached a tensor of shape ${shapeStr(this.shape)}`);
    }
    if (this.grad === null) {
      this.grad = new Tensor(g.data.slice(), this.shape);
    } else {
      const d = this.grad.data;
      getBackend().binary('add', d, this.shape, g.data, this.shape, d, this.shape);
    }
  }

  // ---- ops as methods (each defined, with its gradient, in src/ops/) ----
  add(other: TensorLike): Tensor { return ew.add(this, other); }
  sub(other: TensorLike): Tensor { return ew.sub(this, other); }
  mul(other: TensorLike): Tensor { return ew.mul(this, other); }
  div(other: TensorLike): Tensor { return ew.div(this, other); }
  neg(): Tensor { return ew.neg(this); }
  pow(exponent: number): Tensor { return ew.pow(this, exponent); }
  sqrt(): Tensor { return ew.sqrt(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  abs(): Tensor { return ew.abs(this); }
  clamp(min?: number | null, max?: number | null): Tensor { return ew.clamp(this, min, max); }

  relu(): Tensor { return act.relu(this); }
  leakyRelu(negativeSlope?: number): Tensor { return act.leakyRelu(this, negativeSlope); }
  sigmoid(): Tensor { return act.sigmoid(this); }
  tanh(): Tensor { return act.tanh(this); }
  gelu(approximate?: 'none' | 'tanh'): Tensor { return act.gelu(this, approximate); }
  softmax(dim = -1): Tensor { return sm.softmax(this, dim); }
  logSoftmax(dim = -1): Tensor { return sm.logSoftmax(this, dim); }

  matmul(other: Tensor): Tensor { return matmul(this, other); }
  reshape(...shape: number[] | [readonly number[]]): Tensor { return shp.reshape(this, ...shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return shp.flatten(this, startDim, endDim); }
  transpose(dim0 = 0, dim1 = 1): Tensor { return shp.transpose(this, dim0, dim1); }
  permute(...axes: number[]): Tensor { return shp.permute(this, axes); }
  /** Transpose of a 2-D tensor. */
  get T(): Tensor { return shp.t(this); }

  sum(dim?: number | null, keepdim = false): Tensor { return red.sum(this, dim, keepdim); }
  mean(dim?: number | null, keepdim = false): Tensor { return red.mean(this, dim, keepdim); }
  max(dim?: number | null, keepdim = false): Tensor { return red.max(this, dim, keepdim); }
  min(dim?: number | null, keepdim = false): Tensor { return red.min(this, dim, keepdim); }
  argmax(dim?: number | null, keepdim = false): Tensor { return red.argmax(this, dim, keepdim); }
  argmin(dim?: number | null, keepdim = false): Tensor { return red.argmin(this, dim, keepdim); }

  indexSelect(indices: IndexLike): Tensor { return idx.indexSelect(this, indices); }
  /** Rows start..end (end exclusive, negative counts from the end) along dim 0; shares no data. */
  slice(start: number, end?: number): Tensor { return idx.slice(this, start, end); }
}
