import { MAX_ELEMENTS, valueStr } from '../shape.js';
import { Dropout, GELU, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh } from './layers.js';
import type { Module } from './module.js';

/** The activations mlp() can put between layers. */
export type ActivationName = 'relu' | 'leakyRelu' | 'gelu' | 'tanh' | 'sigmoid';

/** A multilayer perceptron's shape: what mlp() builds, and what a saved model records. */
export interface MLPSpec {
  /** Features per input row. */
  inputs: number;
  /** Widths of the hidden layers, e.g. [512, 256]; [] gives one Linear (a linear model). */
  hidden: readonly number[];
  /** Outputs per row (classes, for a classifier: the model returns logits). */
  outputs: number;
  /** Default 'relu'. */
  activation?: ActivationName;
  /** Dropout probability after each hidden activation (0 or absent: none). */
  dropout?: number;
}

const ACTIVATIONS: Record<ActivationName, () => Module> = {
  relu: () => new ReLU(),
  leakyRelu: () => new LeakyReLU(),
  gelu: () => new GELU(),
  tanh: () => new Tanh(),
  sigmoid: () => new Sigmoid(),
};

/** The names mlp() accepts for `activation`. */
export const activationNames = Object.keys(ACTIVATIONS) as ActivationName[];

/** A fresh activation layer by name (callers have checked the name). */
export function activationLayer(name: ActivationName): Module {
  const make = Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (make === undefined) throw new Error(`activationLayer: activation must be one of ${activationNames.join(', ')}, got ${valueStr(name)}`);
  return make();
}

const SPEC_KEYS = ['inputs', 'hidden', 'outputs', 'activation', 'dropout'];

/** Throws `mlp: …` unless spec is a buildable MLPSpec; every size is checked before anything is allocated. */
function checkMlpSpec(spec: unknown): void {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new Error(`mlp: spec must be an object { inputs, hidden, outputs, activation?, dropout? }, got ${valueStr(spec)}`);
  }
  for (const k of Object.keys(spec)) {
    if (!SPEC_KEYS.includes(k)) throw new Error(`mlp: unknown spec key '${k}' (expected ${SPEC_KEYS.join(', ')})`);
  }
  const s = spec as Record<string, unknown>;
  const width = (what: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error(`mlp: ${what} must be a positive integer, got ${valueStr(v)}`);
    return v;
  };
  const inputs = width('inputs', s['inputs']);
  const hidden: unknown = s['hidden'];
  if (!Array.isArray(hidden)) throw new Error(`mlp: hidden must be an array of layer widths (e.g. [64, 32]; [] for none), got ${valueStr(hidden)}`);
  const dims = [inputs, ...hidden.map((h: unknown, i) => width(`hidden[${i}]`, h)), width('outputs', s['outputs'])];
  for (let l = 0; l + 1 < dims.length; l++) {
    if (dims[l]! * dims[l + 1]! > MAX_ELEMENTS) {
      throw new Error(`mlp: layer ${l} would have a [${dims[l + 1]}, ${dims[l]}] weight, more than the ${MAX_ELEMENTS} elements a tensor may hold`);
    }
  }
  const act = s['activation'];
  if (act !== undefined && (typeof act !== 'string' || !Object.hasOwn(ACTIVATIONS, act))) {
    throw new Error(`mlp: activation must be one of ${activationNames.map((a) => `'${a}'`).join(', ')}, got ${valueStr(act)}`);
  }
  const p = s['dropout'];
  if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p < 1))) throw new Error(`mlp: dropout must be a number in [0, 1), got ${valueStr(p)}`);
}

/** Layers per hidden width: Linear, activation, and Dropout when there is dropout. */
function stride(spec: MLPSpec): number {
  return (spec.dropout ?? 0) > 0 ? 3 : 2;
}

/**
 * The parameter names and shapes mlp(spec) has, each name prefixed, computed without building
 * the model (so a spec read from a file can be checked before anything is allocated).
 */
export function mlpParameterShapes(spec: MLPSpec, prefix = ''): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const dims = [spec.inputs, ...spec.hidden, spec.outputs];
  for (let l = 0; l + 1 < dims.length; l++) {
    const at = `${prefix}${l * stride(spec)}`;
    out.set(`${at}.weight`, [dims[l + 1]!, dims[l]!]);
    out.set(`${at}.bias`, [dims[l + 1]!]);
  }
  return out;
}

/**
 * Linear → activation (→ Dropout) for each hidden width, then a final Linear, as one Sequential.
 * The layer indices match the same torch.nn.Sequential, so state dict keys ("0.weight", "3.bias", …)
 * are PyTorch's.
 * @param spec - inputs, hidden widths, outputs, activation (default 'relu'), dropout
 * @example
 * ```ts
 * const model = mlp({ inputs: 784, hidden: [256, 128], outputs: 10, dropout: 0.2 });
 * String(model); // Sequential( (0): Linear(…) (1): ReLU() (2): Dropout(p=0.2) … )
 * ```
 */
export function mlp(spec: MLPSpec): Sequential {
  checkMlpSpec(spec);
  const { inputs, hidden, outputs } = spec;
  const activation = spec.activation ?? 'relu';
  const p = spec.dropout ?? 0;
  const dims = [inputs, ...hidden, outputs];
  const layers: Module[] = [];
  for (let i = 0; i < hidden.length; i++) {
    layers.push(new Linear(dims[i]!, dims[i + 1]!), activationLayer(activation));
    if (p > 0) layers.push(new Dropout(p));
  }
  layers.push(new Linear(dims[hidden.length]!, outputs));
  return new Sequential(...layers);
}
