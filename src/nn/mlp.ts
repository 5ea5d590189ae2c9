import { Dropout, GELU, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh } from './layers.js';
import type { Module } from './module.js';

/** The activations mlp() can put between layers. */
export type ActivationName = 'relu' | 'leakyRelu' | 'gelu' | 'tanh' | 'sigmoid';

/** A multilayer perceptron's shape: what mlp() builds, and what a saved model records. */
export interface MLPSpec {
  inputs: number;
  /** Widths of the hidden layers, e.g. [512, 256]; [] gives one Linear (a linear model). */
  hidden: readonly number[];
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

/** A fresh activation layer by name. */
export function activationLayer(name: ActivationName): Module {
  const make = ACTIVATIONS[name];
  if (make === undefined) throw new Error(`activation must be one of ${activationNames.join(', ')}, got '${String(name)}'`);
  return make();
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
 */
export function mlp(spec: MLPSpec): Sequential {
  const { inputs, hidden, outputs } = spec;
  const activation = spec.activation ?? 'relu';
  const p = spec.dropout ?? 0;
  const dims = [inputs, ...hidden, outputs];
  if (!dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`mlp: inputs, hidden widths and outputs must be positive integers, got ${inputs}, [${hidden.join(', ')}], ${outputs}`);
  }
  if (ACTIVATIONS[activation] === undefined) throw new Error(`mlp: activation must be one of ${activationNames.join(', ')}, got '${String(activation)}'`);
  if (!(p >= 0 && p < 1)) throw new Error(`mlp: dropout must be in [0, 1), got ${p}`);
  const layers: Module[] = [];
  for (let i = 0; i < hidden.length; i++) {
    layers.push(new Linear(dims[i]!, dims[i + 1]!), activationLayer(activation));
    if (p > 0) layers.push(new Dropout(p));
  }
  layers.push(new Linear(dims[hidden.length]!, outputs));
  return new Sequential(...layers);
}
