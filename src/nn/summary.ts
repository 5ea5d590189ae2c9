import { noGrad } from '../autograd.js';
import { zeros } from '../creation.js';
import { checkShape, shapeStr, valueStr } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { Sequential } from './layers.js';
import { Module, isParameter } from './module.js';

/** One row of summary()'s table. */
export interface LayerSummary {
  /** Dotted module name ('' for the model itself, '0', '0.weight'…). */
  name: string;
  /** The module's class name. */
  type: string;
  /** The module's output shape in the forward pass (null if it was not called). */
  outputShape: number[] | null;
  /** The module's own parameter count (not its children's). */
  params: number;
}

/**
 * A layer table like torchinfo's: every submodule with its output shape (from one forward pass
 * on zeros of `inputShape`, under noGrad and with fusion off so each layer runs) and its own
 * parameter count; then the totals. Returns the text and the rows.
 * @param model - the model
 * @param inputShape - an input shape, batch dim included (e.g. [1, 784])
 * @example
 * ```ts
 * console.log(summary(mlp({ inputs: 784, hidden: [128], outputs: 10 }), [1, 784]).text);
 * ```
 */
export function summary(
  model: Module,
  inputShape: readonly number[],
): {
  /** The table, ready to print. */
  text: string;
  /** The table's rows. */
  layers: LayerSummary[];
  /** Parameter count of the whole model. */
  totalParams: number;
} {
  if (!((model as unknown) instanceof Module)) throw new Error(`summary: model must be a Module, got ${valueStr(model)}`);
  if (!Array.isArray(inputShape)) throw new Error(`summary: inputShape must be an array of dims (e.g. [1, 784]), got ${valueStr(inputShape)}`);
  checkShape('summary: inputShape', inputShape);
  const rows: LayerSummary[] = [];
  for (const [name, m] of model.namedModules()) {
    const own = Object.values(m).filter(isParameter).reduce((s, p) => s + p.size, 0);
    const row: LayerSummary = { name: name || '(model)', type: m.constructor.name, outputShape: null, params: own };
    rows.push(row);
    // An own property shadows the class's forward for this one pass; deleted afterwards.
    const original = m.forward;
    m.forward = (...xs: Tensor[]) => {
      const y = original.apply(m, xs);
      row.outputShape = [...y.shape];
      return y;
    };
  }
  const wasTraining = model.training;
  const fuse = Sequential.fuse;
  Sequential.fuse = false;
  try {
    model.eval();
    noGrad(() => model.forward(zeros(inputShape)));
  } catch (e) {
    // The layer's own message says what failed; the prefix says it was summary's trial pass.
    throw new Error(`summary: the forward pass on zeros(${shapeStr(inputShape)}) failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    Sequential.fuse = fuse;
    model.train(wasTraining);
    for (const [, m] of model.namedModules()) delete (m as { forward?: unknown }).forward;
  }
  const totalParams = model.parameters().reduce((s, p) => s + p.size, 0);
  const trainable = model.parameters().filter((p) => p.requiresGrad).reduce((s, p) => s + p.size, 0);
  const cells = rows.map((r) => [`${r.name} (${r.type})`, r.outputShape ? `[${r.outputShape.join(', ')}]` : '-', r.params.toLocaleString('en-US')]);
  const header = ['Layer (type)', 'Output shape', 'Param #'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ');
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const text = [
    line(header),
    rule,
    ...cells.map(line),
    rule,
    `Total params: ${totalParams.toLocaleString('en-US')}`,
    `Trainable params: ${trainable.toLocaleString('en-US')}`,
  ].join('\n');
  return { text, layers: rows, totalParams };
}
