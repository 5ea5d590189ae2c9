import { noGrad } from '../autograd.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Tensors registered as parameters (by `parameter()`), so modules can find them among their fields. */
const PARAMETERS = new WeakSet<Tensor>();

/** Marks t as a module parameter (a leaf that requires grad) and returns it. */
export function parameter(t: Tensor): Tensor {
  if (!t.isLeaf) throw new Error('parameter: expected a leaf tensor (use detach() first)');
  t.requiresGrad = true;
  PARAMETERS.add(t);
  return t;
}

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

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Direct submodules with their names (field names; Sequential uses "0", "1", …). */
  *namedChildren(): Generator<[string, Module]> {
    for (const [k, v] of Object.entries(this)) if (v instanceof Module) yield [k, v];
  }

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

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /** Sets training mode here and in every submodule. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient (to null, PyTorch's default set_to_none). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Name → tensor for every parameter; the tensors are detached views of the live values. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, p] of this.namedParameters()) out[k] = p.detach();
    return out;
  }

  /**
   * Copies values from a state dict into the parameters, in place. Strict (the default) demands
   * exactly the same keys; shapes must always match. Errors list every missing, unexpected and
   * mis-shaped key. Returns the missing and unexpected keys (empty when strict).
   */
  loadStateDict(state: Record<string, Tensor>, strict = true): { missingKeys: string[]; unexpectedKeys: string[] } {
    const own = new Map(this.namedParameters());
    const missing = [...own.keys()].filter((k) => !(k in state));
    const unexpected = Object.keys(state).filter((k) => !own.has(k));
    const misShaped: string[] = [];
    for (const [k, p] of own) {
      const v = state[k];
      if (v === undefined) continue;
      if (!(v instanceof Tensor)) misShaped.push(`${k}: not a Tensor`);
      else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
        misShaped.push(`${k}: expected ${shapeStr(p.shape)}, got ${shapeStr(v.shape)}`);
      }
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`missing keys: ${missing.join(', ')}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
    if (misShaped.length) problems.push(`size mismatch: ${misShaped.join('; ')}`);
    if (problems.length) throw new Error(`loadStateDict: ${problems.join('. ')}`);
    noGrad(() => {
      for (const [k, p] of own) {
        const v = state[k];
        if (v !== undefined) p.data.set(v.data);
      }
    });
    return { missingKeys: missing, unexpectedKeys: unexpected };
  }

  /** One-line description, PyTorch-style ("Linear(in=784, out=10, bias=true)"). */
  extraRepr(): string {
    return '';
  }

  toString(): string {
    const kids = [...this.namedChildren()];
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (kids.length === 0) return `${head})`;
    const body = kids.map(([k, m]) => `  (${k}): ${String(m).split('\n').join('\n  ')}`).join('\n');
    return `${head}\n${body}\n)`;
  }
}
