import { noGrad } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * A streaming metric: fed batch by batch with the model's outputs and the targets, read once at
 * the end of an epoch. Targets are class indices [batch] or probability rows [batch, classes]
 * (MixUp), whose argmax is then the class.
 */
export interface Metric {
  readonly name: string;
  reset(): void;
  update(output: Tensor, target: Tensor): void;
  compute(): number;
}

/** The target class of each row: the indices themselves, or the argmax of probability rows. */
export function targetClasses(op: string, output: Tensor, target: Tensor): Float32Array {
  if (output.ndim !== 2) throw new Error(`${op}: outputs must be [batch, classes], got ${shapeStr(output.shape)}`);
  const rows = output.shape[0]!;
  if (target.ndim === 1 && target.shape[0] === rows) return target.data;
  if (target.ndim === 2 && target.shape[0] === rows && target.shape[1] === output.shape[1]) {
    return noGrad(() => target.argmax(1)).data;
  }
  throw new Error(`${op}: target ${shapeStr(target.shape)} does not match outputs ${shapeStr(output.shape)}`);
}

/** Fraction of rows whose target class is among the k largest outputs (ties count against). */
export class TopK implements Metric {
  readonly name: string;
  private hits = 0;
  private total = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`TopK: k must be a positive integer, got ${k}`);
    this.name = k === 1 ? 'accuracy' : `top${k}`;
  }

  reset(): void {
    this.hits = 0;
    this.total = 0;
  }

  update(output: Tensor, target: Tensor): void {
    const classes = targetClasses(this.name, output, target);
    const [rows, c] = output.shape as [number, number];
    if (this.k === 1) {
      // argmax runs in the backend; the comparison is one pass over the rows.
      const pred = noGrad(() => output.argmax(1)).data;
      for (let r = 0; r < rows; r++) if (pred[r] === classes[r]) this.hits++;
    } else {
      // Rank of the target's score within its row: a hit when fewer than k scores beat it.
      const o = output.data;
      for (let r = 0; r < rows; r++) {
        const t = classes[r]!;
        const s = o[r * c + t]!;
        let above = 0;
        for (let j = 0; j < c && above < this.k; j++) {
          const v = o[r * c + j]!;
          if (v > s || (v === s && j < t)) above++;
        }
        if (above < this.k) this.hits++;
      }
    }
    this.total += rows;
  }

  compute(): number {
    return this.total === 0 ? Number.NaN : this.hits / this.total;
  }
}

/** Classification accuracy: the share of rows whose argmax is the target class. */
export function accuracy(): Metric {
  return new TopK(1);
}

/** Top-k accuracy. */
export function topK(k: number): Metric {
  return new TopK(k);
}

/** A metric by name: 'accuracy', or 'topK' for any K ('top3', 'top5'). */
export function metricByName(name: string): Metric {
  if (name === 'accuracy' || name === 'acc') return accuracy();
  const m = /^top(\d+)$/.exec(name);
  if (m) return topK(Number(m[1]));
  throw new Error(`metric '${name}' is unknown; use 'accuracy', 'topK' (e.g. 'top5') or an object with update()/compute()`);
}

/**
 * A confusion matrix: `matrix[t][p]` counts samples of true class t predicted as p. Rows are the
 * true classes, as in scikit-learn.
 */
export class ConfusionMatrix {
  readonly matrix: number[][];

  constructor(
    readonly numClasses: number,
    readonly classNames: readonly string[] = Array.from({ length: numClasses }, (_, i) => String(i)),
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`ConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    if (classNames.length !== numClasses) throw new Error(`ConfusionMatrix: ${classNames.length} class names for ${numClasses} classes`);
    this.matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  }

  /** Adds a batch of outputs [batch, classes] (or predicted class indices [batch]) and targets. */
  update(output: Tensor, target: Tensor): void {
    const pred = output.ndim === 2 ? noGrad(() => output.argmax(1)).data : output.data;
    const truth = output.ndim === 2 ? targetClasses('confusionMatrix', output, target) : target.data;
    if (pred.length !== truth.length) throw new Error(`confusionMatrix: ${pred.length} predictions for ${truth.length} targets`);
    for (let i = 0; i < pred.length; i++) {
      const t = truth[i]!;
      const p = pred[i]!;
      if (!(Number.isInteger(t) && t >= 0 && t < this.numClasses && Number.isInteger(p) && p >= 0 && p < this.numClasses)) {
        throw new Error(`confusionMatrix: sample ${i}: class ${t} / prediction ${p} is outside [0, ${this.numClasses})`);
      }
      this.matrix[t]![p]!++;
    }
  }

  get total(): number {
    return this.matrix.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
  }

  get accuracy(): number {
    let diag = 0;
    for (let i = 0; i < this.numClasses; i++) diag += this.matrix[i]![i]!;
    return diag / this.total;
  }

  /** Per class: recall (correct / true count) and precision (correct / predicted count); NaN when undefined. */
  perClass(): { name: string; recall: number; precision: number; support: number }[] {
    return this.matrix.map((row, i) => {
      const support = row.reduce((a, b) => a + b, 0);
      const predicted = this.matrix.reduce((a, r) => a + r[i]!, 0);
      return { name: this.classNames[i]!, recall: row[i]! / support, precision: row[i]! / predicted, support };
    });
  }

  /** A fixed-width table: true classes down, predictions across, recall per row. */
  toString(): string {
    const names = this.classNames.map((n) => (n.length > 12 ? `${n.slice(0, 11)}…` : n));
    const cell = Math.max(5, ...this.matrix.flat().map((v) => String(v).length), ...names.map((n) => n.length)) + 1;
    const label = Math.max(9, ...names.map((n) => n.length)) + 1;
    const head = `${'true\\pred'.padEnd(label)}${names.map((n) => n.padStart(cell)).join('')}  recall`;
    const rows = this.matrix.map((row, i) => {
      const support = row.reduce((a, b) => a + b, 0);
      const recall = support ? `${((row[i]! / support) * 100).toFixed(1)}%` : '-';
      return `${names[i]!.padEnd(label)}${row.map((v) => String(v).padStart(cell)).join('')}  ${recall.padStart(6)}`;
    });
    return [head, ...rows, `accuracy ${(this.accuracy * 100).toFixed(2)}% of ${this.total}`].join('\n');
  }
}

/** A confusion matrix from outputs [N, classes] (or predicted indices [N]) and targets [N]. */
export function confusionMatrix(output: Tensor, target: Tensor, numClasses?: number, classNames?: readonly string[]): ConfusionMatrix {
  if (!(output instanceof Tensor) || !(target instanceof Tensor)) throw new Error('confusionMatrix: outputs and targets must be Tensors');
  let c = numClasses ?? (output.ndim === 2 ? output.shape[1]! : undefined);
  if (c === undefined) {
    // Predicted indices without a class count: the largest index seen.
    const hi = new Float32Array(1);
    getBackend().reduce('max', output.data, 1, output.size, 1, hi, null);
    const hiT = new Float32Array(1);
    getBackend().reduce('max', target.data, 1, target.size, 1, hiT, null);
    c = Math.max(hi[0]!, hiT[0]!) + 1;
  }
  const m = new ConfusionMatrix(c, classNames);
  m.update(output, target);
  return m;
}
