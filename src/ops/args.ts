/**
 * Argument checks shared by the ops, losses and layers. They run before any backend call, so
 * both backends see only valid arguments and junk fails the same way on each, with a message
 * naming the function, the argument and what was expected.
 */
import { valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';

export function requireTensor(op: string, name: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${valueStr(x)}`);
  // Object.create(Tensor.prototype) passes instanceof but has none of a tensor's state.
  if (Tensor._rawOf(x) === undefined) throw new Error(`${op}: ${name} is not a valid Tensor (an object posing as one, not made by the Tensor constructor)`);
  x._check(op); // O(1): refuses a tensor whose buffer was transferred or resized
  return x;
}

export function requireNumber(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new Error(`${op}: ${name} must be a number, got ${valueStr(v)}`);
  return v;
}

export function requireFinite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${op}: ${name} must be a finite number, got ${valueStr(v)}`);
  return v;
}

export function requireInteger(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${op}: ${name} must be an integer, got ${valueStr(v)}`);
  return v;
}

export function requireBoolean(op: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new Error(`${op}: ${name} must be a boolean, got ${valueStr(v)}`);
  return v;
}

/** A plain object (not null, not an array): what every options and state-dict argument must be. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * An options argument: a plain object whose keys are all in `known`, so a PyTorch spelling
 * (`weight_decay`, `batch_size`) fails instead of being ignored without a word. Undefined means {}
 * unless the options are `required` (a scheduler has no sensible defaults).
 */
export function requireKnownOptions(op: string, v: unknown, known: readonly string[], required = false): Record<string, unknown> {
  if (v === undefined && !required) return {};
  if (!isRecord(v)) throw new Error(`${op}: options must be an object, got ${valueStr(v)}`);
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw new Error(`${op}: unknown option '${k}' (expected ${known.join(', ')})`);
  }
  return v;
}

/** An options argument: undefined (→ {}) or a plain object. */
export function requireOptions<T extends object>(op: string, v: T | undefined): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${op}: options must be an object, got ${valueStr(v)}`);
  return v;
}

/** A string argument restricted to `allowed`. */
export function requireOneOf<T extends string>(op: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new Error(`${op}: ${name} must be ${allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')}, got ${valueStr(v)}`);
  }
  return v as T;
}
