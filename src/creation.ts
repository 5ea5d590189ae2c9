import { requireTensor } from './ops/args.js';
import { defaultGenerator } from './random.js';
import { type Shape, allocFloat32, checkShape, copyFloat32, shapeStr, sizeOf, valueStr } from './shape.js';
import { type NestedArray, Tensor, detachedError, isDetachedArray, ownedTensor } from './tensor.js';

/** Options of the creation functions. */
export interface TensorOptions {
  /** Make the new tensor a leaf that collects gradients. Default false. */
  requiresGrad?: boolean;
}

type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array;

function isNumericArray(x: unknown): x is NumericArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** requiresGrad from an options argument, checked: `{ requiresGrad: 'yes' }` is a mistake, not true. */
function gradOption(op: string, options: TensorOptions | undefined): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${op}: options must be an object, got ${valueStr(options)}`);
  }
  const r = options.requiresGrad;
  if (r === undefined) return false;
  if (typeof r !== 'boolean') throw new Error(`${op}: options.requiresGrad must be a boolean, got ${valueStr(r)}`);
  return r;
}

/** Infers the shape of nested arrays and checks they are rectangular and numeric. */
function flattenNested(data: NestedArray): { values: Float32Array; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  checkShape('tensor', shape);
  const values = allocFloat32('tensor', sizeOf(shape));
  let k = 0;
  const walk = (node: unknown, dim: number, path: number[]): void => {
    if (dim === shape.length) {
      if (typeof node !== 'number') {
        // valueStr, not JSON.stringify: that throws on a BigInt.
        throw new Error(`tensor: values must be numbers, got ${valueStr(node)} at [${path.join(', ')}]`);
      }
      values[k++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw new Error(
        `tensor: ragged nested array: expected ${Array.isArray(node) ? 'length ' + shape[dim] : 'an array of length ' + shape[dim]} at [${path.join(', ')}], got ${Array.isArray(node) ? 'length ' + node.length : typeName(node)}`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i], dim + 1, [...path, i]);
  };
  walk(data, 0, []);
  return { values, shape };
}

/**
 * A tensor from nested arrays (shape inferred), a number (0-d), or flat data (a typed array or a
 * number array) with an optional shape (default: 1-D). The values are copied into a new
 * Float32Array.
 * PyTorch: `torch.tensor`.
 * @param data - nested arrays, a number, or flat data (typed array or number[])
 * @param shape - the shape of flat data (default 1-D), or the options
 * @param options - `requiresGrad` (default false)
 * @example
 * ```ts
 * const x = tensor([[1, 2], [3, 4]]);            // shape [2, 2]
 * const w = tensor([0.5, -0.5], { requiresGrad: true });
 * const y = tensor(new Float32Array(6), [2, 3]); // flat data with a shape
 * ```
 */
export function tensor(data: NestedArray | ArrayLike<number>, shape?: Shape | TensorOptions, options?: TensorOptions): Tensor {
  let opts = options;
  let shp: Shape | undefined;
  if (shape !== undefined && !Array.isArray(shape)) {
    if (shape === null || typeof shape !== 'object') throw new Error(`tensor: shape must be an array of dims or an options object, got ${valueStr(shape)}`);
    opts = shape as TensorOptions;
  } else shp = shape as Shape | undefined;
  const requiresGrad = gradOption('tensor', opts);
  let values: Float32Array;
  let inferred: number[];
  if (isNumericArray(data)) {
    if (isDetachedArray(data)) throw detachedError('tensor');
    values = copyFloat32(data);
    inferred = [values.length];
  } else if (typeof data === 'number' || Array.isArray(data)) {
    ({ values, shape: inferred } = flattenNested(data as NestedArray));
  } else {
    throw new Error(`tensor: expected nested arrays of numbers, a number or a typed array, got ${valueStr(data)}`);
  }
  if (shp !== undefined) {
    checkShape('tensor', shp);
    if (sizeOf(shp) !== values.length) {
      throw new Error(`tensor: data has ${values.length} elements but shape ${shapeStr(shp)} needs ${sizeOf(shp)}`);
    }
    return ownedTensor(values, shp, requiresGrad);
  }
  return ownedTensor(values, inferred, requiresGrad);
}

function shapeArg(op: string, shape: Shape | number): Shape {
  const s = typeof shape === 'number' ? [shape] : shape;
  if (!Array.isArray(s)) throw new Error(`${op}: shape must be an array of dims or a number, got ${valueStr(shape)}`);
  checkShape(op, s);
  return s;
}

/**
 * A tensor filled with value. PyTorch: `torch.full`.
 * @param shape - the dims, or a number for 1-D
 * @param value - the fill value
 * @param options - `requiresGrad` (default false)
 */
export function full(shape: Shape | number, value: number, options?: TensorOptions): Tensor {
  const s = shapeArg('full', shape);
  if (typeof value !== 'number') throw new Error(`full: value must be a number, got ${valueStr(value)}`);
  const requiresGrad = gradOption('full', options);
  return ownedTensor(allocFloat32('full', sizeOf(s)).fill(value), s, requiresGrad);
}

/**
 * A tensor of zeros. PyTorch: `torch.zeros`.
 * @param shape - the dims, or a number for 1-D
 * @param options - `requiresGrad` (default false)
 */
export function zeros(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('zeros', shape);
  const requiresGrad = gradOption('zeros', options);
  return ownedTensor(allocFloat32('zeros', sizeOf(s)), s, requiresGrad);
}

/**
 * A tensor of ones. PyTorch: `torch.ones`.
 * @param shape - the dims, or a number for 1-D
 * @param options - `requiresGrad` (default false)
 */
export function ones(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('ones', shape);
  const requiresGrad = gradOption('ones', options);
  return ownedTensor(allocFloat32('ones', sizeOf(s)).fill(1), s, requiresGrad);
}

function likeArg(op: string, x: Tensor): Shape {
  // The shape is all that is read, but a detached or counterfeit input is a mistake to report.
  return requireTensor(op, 'input', x).shape;
}

/**
 * Zeros of x's shape. PyTorch: `torch.zeros_like`.
 * @param x - the tensor whose shape to take
 * @param options - `requiresGrad` (default false)
 */
export function zerosLike(x: Tensor, options?: TensorOptions): Tensor {
  const s = likeArg('zerosLike', x);
  const requiresGrad = gradOption('zerosLike', options);
  return ownedTensor(allocFloat32('zerosLike', sizeOf(s)), s, requiresGrad);
}

/**
 * Ones of x's shape. PyTorch: `torch.ones_like`.
 * @param x - the tensor whose shape to take
 * @param options - `requiresGrad` (default false)
 */
export function onesLike(x: Tensor, options?: TensorOptions): Tensor {
  const s = likeArg('onesLike', x);
  const requiresGrad = gradOption('onesLike', options);
  return ownedTensor(allocFloat32('onesLike', sizeOf(s)).fill(1), s, requiresGrad);
}

/**
 * Uniform on [0, 1), from the seeded generator.
 * PyTorch: `torch.rand`.
 * @param shape - the dims, or a number for 1-D
 * @param options - `requiresGrad` (default false)
 */
export function rand(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('rand', shape);
  const requiresGrad = gradOption('rand', options);
  const data = allocFloat32('rand', sizeOf(s));
  defaultGenerator._fillUniform(data, 0, 1);
  return ownedTensor(data, s, requiresGrad);
}

/**
 * Standard normal, from the seeded generator.
 * PyTorch: `torch.randn`.
 * @param shape - the dims, or a number for 1-D
 * @param options - `requiresGrad` (default false)
 */
export function randn(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('randn', shape);
  const requiresGrad = gradOption('randn', options);
  const data = allocFloat32('randn', sizeOf(s));
  defaultGenerator._fillNormal(data, 0, 1);
  return ownedTensor(data, s, requiresGrad);
}

/**
 * Values from start (inclusive) to end (exclusive) by step, like PyTorch: arange(5) is 0..4,
 * arange(1, 4) is 1..3, arange(0, 1, 0.25) is 0, 0.25, 0.5, 0.75.
 * PyTorch: `torch.arange`.
 * @param start - first value, or the end when it is the only argument
 * @param end - end (exclusive)
 * @param step - increment (default 1; non-zero)
 * @param options - `requiresGrad` (default false)
 */
export function arange(start: number, end?: number, step = 1, options?: TensorOptions): Tensor {
  let lo = start;
  let hi = end;
  if (hi === undefined) {
    hi = lo;
    lo = 0;
  }
  for (const [name, v] of [['start', lo], ['end', hi], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`arange: ${name} must be a finite number, got ${valueStr(v)}`);
  }
  if (step === 0) throw new Error('arange: step must be non-zero');
  // PyTorch refuses a step pointing away from end rather than returning an empty tensor.
  if ((hi - lo) * step < 0) throw new Error(`arange: step ${step} points away from end: no values from ${lo} to ${hi}`);
  const requiresGrad = gradOption('arange', options);
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  checkShape('arange', [n]);
  const data = allocFloat32('arange', n);
  for (let i = 0; i < n; i++) data[i] = lo + i * step;
  return ownedTensor(data, [n], requiresGrad);
}

/**
 * Identity matrix n×m (m defaults to n).
 * PyTorch: `torch.eye`.
 * @param n - rows
 * @param m - columns (default n)
 * @param options - `requiresGrad` (default false)
 */
export function eye(n: number, m = n, options?: TensorOptions): Tensor {
  checkShape('eye', [n, m]);
  const requiresGrad = gradOption('eye', options);
  const data = allocFloat32('eye', n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return ownedTensor(data, [n, m], requiresGrad);
}
