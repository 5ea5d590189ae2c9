import { noGrad } from '../autograd.js';
import { sameShape, shapeStr, valueStr } from '../shape.js';
import { Tensor, tensorProblem } from '../tensor.js';
import type { DataLoader } from '../data/loader.js';
import type { Dataset } from '../data/dataset.js';
import type { PredictAsyncOptions } from '../train/async.js';
import type { EvaluateOptions, EvaluateResult } from '../train/evaluate.js';

/** predictAsync/evaluateAsync, registered by train/async.ts (which imports this file). */
interface AsyncInference {
  predict(model: Module, input: Tensor | Dataset | DataLoader<Tensor[]>, options?: PredictAsyncOptions): Promise<Tensor>;
  evaluate(
    model: Module,
    data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
    options?: EvaluateOptions,
  ): Promise<EvaluateResult>;
}
let asyncInference: AsyncInference | null = null;

/** @internal */
export function setAsyncInference(impl: AsyncInference): void {
  asyncInference = impl;
}

function inference(who: string): AsyncInference {
  if (asyncInference === null) throw new Error(`${who}: import tensorgrad itself (the async inference module was not loaded)`);
  return asyncInference;
}

/** Tensors registered as parameters (by `parameter()`), so modules can find them among their fields. */
const PARAMETERS = new WeakSet<Tensor>();

/**
 * Marks t as a module parameter (a leaf that requires grad) and returns it. A Module field
 * holding such a tensor is what `parameters()`, `stateDict()` and the optimizers see.
 * PyTorch: `torch.nn.Parameter`.
 * @param t - a leaf tensor (its requiresGrad is set to true)
 * @returns t itself
 */
export function parameter(t: Tensor): Tensor {
  const problem = tensorProblem(t);
  if (problem !== null) throw new Error(`parameter: ${problem}`);
  if (!t.isLeaf) throw new Error('parameter: expected a leaf tensor (use detach() first)');
  t.requiresGrad = true;
  PARAMETERS.add(t);
  return t;
}

/**
 * Whether x is a tensor registered by `parameter()`.
 * @param x - any value
 */
export function isParameter(x: unknown): x is Tensor {
  return x instanceof Tensor && PARAMETERS.has(x);
}

/**
 * Base class of layers and models, with PyTorch's semantics. Parameters and submodules are the
 * instance's own fields (in declaration order, as PyTorch registers them): a field holding a
 * `parameter(...)` tensor is a parameter, a field holding a Module is a child. Subclasses
 * implement forward().
 */
export abstract class Module {
  /** True in training mode (Dropout active), false after eval(). */
  training = true;

  /**
   * The computation: subclasses implement it; call it directly (`model.forward(x)`).
   * @param inputs - the input tensors (one for most layers)
   * @returns the output tensor
   */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** Direct submodules with their names (field names; Sequential uses "0", "1", …). */
  *namedChildren(): Generator<[string, Module]> {
    for (const [k, v] of Object.entries(this)) if (v instanceof Module) yield [k, v];
  }

  /** Direct submodules, in field order. PyTorch: `Module.children`. */
  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and all below it, depth first, with dotted names ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [k, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${k}` : k);
  }

  /** Every parameter with its dotted name ("0.weight"), each tensor once. */
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [k, v] of Object.entries(m)) {
        if (isParameter(v) && !seen.has(v)) {
          seen.add(v);
          yield [name ? `${name}.${k}` : k, v];
        }
      }
    }
  }

  /**
   * Every parameter of this module and its submodules, each tensor once: what an optimizer takes.
   * PyTorch: `Module.parameters`.
   * @example
   * ```ts
   * const opt = new Adam(model.parameters(), { lr: 1e-3 });
   * ```
   */
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /**
   * Sets training mode here and in every submodule.
   * PyTorch: `Module.train`.
   * @param mode - true for training (default), false for evaluation
   * @returns this module
   */
  train(mode = true): this {
    this.training = mode;
    this._eachChild((m) => m.train(mode));
    return this;
  }

  /**
   * @internal Calls fn on each direct submodule, as namedChildren() lists them, without building
   * names or generator results: train()/eval() run on every predict() call, where the named walk
   * cost ~4 µs of a 20 µs batch-1 forward. Containers that override namedChildren override this too.
   */
  _eachChild(fn: (m: Module) => void): void {
    if (this.namedChildren !== Module.prototype.namedChildren) {
      for (const [, m] of this.namedChildren()) fn(m);
      return;
    }
    const keys = Object.keys(this);
    for (let i = 0; i < keys.length; i++) {
      const v = (this as Record<string, unknown>)[keys[i]!];
      if (v instanceof Module) fn(v);
    }
  }

  /** Switches to evaluation mode (`train(false)`): Dropout passes inputs through. PyTorch: `Module.eval`. */
  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient (to null, PyTorch's default set_to_none). PyTorch: `Module.zero_grad`. */
  zeroGrad(): void {
    for (const p of this.parameters()) p._releaseGrad();
  }

  /**
   * Name → tensor for every parameter; the tensors are detached views of the live values.
   * PyTorch: `Module.state_dict`.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, p] of this.namedParameters()) out[k] = p.detach();
    return out;
  }

  /**
   * Copies values from a state dict into the parameters, in place. Strict (the default) demands
   * exactly the same keys; shapes must always match. Every value is checked before any is copied
   * (a real Tensor with intact data, of its parameter's shape), so a bad dict changes nothing.
   * Errors list every missing, unexpected, invalid and mis-shaped key. Returns the missing and
   * unexpected keys (empty when strict).
   * PyTorch: `Module.load_state_dict`.
   * @param state - parameter name → tensor, as `stateDict()` or `loadSync()` returns
   * @param strict - demand exactly this module's keys (default true)
   */
  loadStateDict(
    state: Record<string, Tensor>,
    strict = true,
  ): {
    /** This module's parameters the dict had no value for. */
    missingKeys: string[];
    /** Keys of the dict that name no parameter. */
    unexpectedKeys: string[];
  } {
    if (state === null || typeof state !== 'object' || Array.isArray(state) || state instanceof Tensor) {
      throw new Error(`loadStateDict: expected an object mapping names to Tensors, got ${valueStr(state)}`);
    }
    if (typeof strict !== 'boolean') throw new Error(`loadStateDict: strict must be a boolean, got ${valueStr(strict)}`);
    const own = new Map(this.namedParameters());
    // Own keys only: a parameter named like an Object.prototype member ("constructor") is not "present".
    const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(state, k);
    const missing = [...own.keys()].filter((k) => !has(k));
    const unexpected = Object.keys(state).filter((k) => !own.has(k));
    const invalid: string[] = [];
    const misShaped: string[] = [];
    for (const [k, p] of own) {
      if (!has(k)) continue;
      const v: unknown = state[k];
      const bad = tensorProblem(v);
      if (bad !== null) invalid.push(`${k}: ${bad}`);
      else if (!sameShape((v as Tensor).shape, p.shape)) {
        misShaped.push(`${k}: expected ${shapeStr(p.shape)}, got ${shapeStr((v as Tensor).shape)}`);
      }
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`missing keys: ${missing.join(', ')}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
    if (invalid.length) problems.push(`invalid values: ${invalid.join('; ')}`);
    if (misShaped.length) problems.push(`size mismatch: ${misShaped.join('; ')}`);
    if (problems.length) throw new Error(`loadStateDict: ${problems.join('. ')}`);
    // A source that views some parameter's buffer (e.g. { a: b.detach(), b: a.detach() }) is
    // copied first, so writing one parameter cannot change what another one loads.
    const targets = new Set<ArrayBufferLike>([...own.values()].map((p) => p._data.buffer));
    const sources = new Map<Tensor, Float32Array>();
    for (const [k, p] of own) {
      if (!has(k)) continue;
      const src = state[k]!._data;
      sources.set(p, src === p._data || !targets.has(src.buffer) ? src : src.slice());
    }
    noGrad(() => {
      for (const [p, src] of sources) if (src !== p._data) p._write('loadStateDict').set(src);
    });
    return { missingKeys: missing, unexpectedKeys: unexpected };
  }

  /**
   * `predictAsync(this, input, options)`: the outputs for every row of input, batched, in eval
   * mode, with the native kernels run off the JS thread so the event loop stays free.
   * @param input - a tensor whose rows are samples, a dataset, or a loader
   * @param options - batch size, worker threads; see `PredictAsyncOptions`
   */
  predictAsync(input: Tensor | Dataset | DataLoader<Tensor[]>, options?: PredictAsyncOptions): Promise<Tensor> {
    return inference('predictAsync').predict(this, input, options);
  }

  /**
   * `evaluateAsync(this, data, options)`: evaluate() with its forward passes off the JS thread.
   * @param data - a loader or dataset of (input, target) pairs, or an [inputs, targets] pair
   * @param options - loss, metrics, batch size; see `EvaluateOptions`
   */
  evaluateAsync(
    data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
    options?: EvaluateOptions,
  ): Promise<EvaluateResult> {
    return inference('evaluateAsync').evaluate(this, data, options);
  }

  /** One-line description, PyTorch-style ("Linear(in=784, out=10, bias=true)"). */
  extraRepr(): string {
    return '';
  }

  /** The module tree, one line per layer, PyTorch-style (`print(model)`). */
  toString(): string {
    const kids = [...this.namedChildren()];
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (kids.length === 0) return `${head})`;
    const body = kids.map(([k, m]) => `  (${k}): ${String(m).split('\n').join('\n  ')}`).join('\n');
    return `${head}\n${body}\n)`;
  }
}
