import { defaultGenerator } from './random.js';
import { type Shape, checkShape, shapeStr, sizeOf } from './shape.js';
import { type NestedArray, Tensor } from './tensor.js';

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

/** Infers the shape of nested arrays and checks they are rectangular and numeric. */
function flattenNested(data: NestedArray): { values: Float32Array; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const values = new Float32Array(sizeOf(shape));
  let k = 0;
  const walk = (node: unknown, dim: number, path: number[]): void => {
    if (dim === shape.length) {
      if (typeof node !== 'number') {
        throw new Error(`tensor: expected a number at [${path.join(', ')}], got ${typeName(node)} (${JSON.stringify(node) ?? String(node)})`);
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
 */
export function tensor(data: NestedArray | ArrayLike<number>, shape?: Shape | TensorOptions, options?: TensorOptions): Tensor {
  let opts = options;
  let shp: Shape | undefined;
  if (shape !== undefined && !Array.isArray(shape)) opts = shape as TensorOptions;
  else shp = shape as Shape | undefined;
  const requiresGrad = opts?.requiresGrad ?? false;
  let values: Float32Array;
  let inferred: number[];
  if (isNumericArray(data)) {
    values = Float32Array.from(data);
    inferred = [values.length];
  } else if (typeof data === 'number' || Array.isArray(data)) {
    ({ values, shape: inferred } = flattenNested(data as NestedArray));
  } else {
    throw new Error(`tensor: expected nested arrays of numbers, a number or a typed array, got ${typeName(data)}`);
  }
  if (shp !== undefined) {
    checkShape('tensor', shp);
    if (sizeOf(shp) !== values.length) {
      throw new Error(`tensor: data has ${values.length} elements but shape ${shapeStr(shp)} needs ${sizeOf(shp)}`);
    }
    return new Tensor(values, shp, requiresGrad);
  }
  return new Tensor(values, inferred, requiresGrad);
}

function shapeArg(op: string, shape: Shape | number): Shape {
  const s = typeof shape === 'number' ? [shape] : shape;
  if (!Array.isArray(s)) throw new Error(`${op}: shape must be an array of dims or a number`);
  checkShape(op, s);
  return s;
}

export function full(shape: Shape | number, value: number, options?: TensorOptions): Tensor {
  const s = shapeArg('full', shape);
  if (typeof value !== 'number') throw new Error(`full: value must be a number, got ${typeName(value)}`);
  return new Tensor(new Float32Array(sizeOf(s)).fill(value), s, options?.requiresGrad ?? false);
}

export function zeros(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('zeros', shape);
  return new Tensor(new Float32Array(sizeOf(s)), s, options?.requiresGrad ?? false);
}

export function ones(shape: Shape | number, options?: TensorOptions): Tensor {
  return full(shapeArg('ones', shape), 1, options);
}

export function zerosLike(x: Tensor, options?: TensorOptions): Tensor {
  return zeros(x.shape, options);
}

export function onesLike(x: Tensor, options?: TensorOptions): Tensor {
  return ones(x.shape, options);
}

/** Uniform on [0, 1), from the seeded generator. */
export function rand(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('rand', shape);
  const data = new Float32Array(sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = defaultGenerator.nextFloat();
  return new Tensor(data, s, options?.requiresGrad ?? false);
}

/** Standard normal, from the seeded generator. */
export function randn(shape: Shape | number, options?: TensorOptions): Tensor {
  const s = shapeArg('randn', shape);
  const data = new Float32Array(sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = defaultGenerator.nextNormal();
  return new Tensor(data, s, options?.requiresGrad ?? false);
}

/**
 * Values from start (inclusive) to end (exclusive) by step, like PyTorch: arange(5) is 0..4,
 * arange(1, 4) is 1..3, arange(0, 1, 0.25) is 0, 0.25, 0.5, 0.75.
 */
export function arange(start: number, end?: number, step = 1, options?: TensorOptions): Tensor {
  let lo = start;
  let hi = end;
  if (hi === undefined) {
    hi = lo;
    lo = 0;
  }
  if (![lo, hi, step].every(Number.isFinite)) throw new Error(`arange: start, end and step must be finite numbers`);
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + i * step;
  return new Tensor(data, [n], options?.requiresGrad ?? false);
}

/** Identity matrix n×m (m defaults to n). */
export function eye(n: number, m = n, options?: TensorOptions): Tensor {
  checkShape('eye', [n, m]);
  const data = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return new Tensor(data, [n, m], options?.requiresGrad ?? false);
}
