import { noGrad } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { requireTensor } from '../ops/args.js';
import { shapeStr, valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';

/** A confusion matrix holds numClasses² counts as JS numbers; past this it is no longer a table anyone reads. */
const MAX_CLASSES = 4096;

/**
 * A streaming metric: fed batch by batch with the model's outputs and the targets, read once at
 * the end of an epoch. Targets are class indices [batch] or probability rows [batch, classes]
 * (MixUp), whose argmax is then the class.
 */
export interface Metric {
  /** The key the metric is reported under (e.g. 'accuracy', 'top5'). */
  readonly name: string;
  /** Forgets everything seen (called at the start of each epoch). */
  reset(): void;
  /**
   * Adds one batch.
   * @param output - the model's outputs, [batch, classes]
   * @param target - class indices [batch] or probability rows [batch, classes]
   */
  update(output: Tensor, target: Tensor): void;
  /** The metric over everything seen since reset(). */
  compute(): number;
}

/**
 * The target class of each row: the indices themselves, or the argmax of probability rows. Index
 * targets must be integers in [0, classes): a class past the outputs can never be predicted, and
 * a fractional one would quietly count as a miss.
 */
export function targetClasses(op: string, output: Tensor, target: Tensor): Float32Array {
  requireTensor(op, 'output', output);
  requireTensor(op, 'target', target);
  if (output.ndim !== 2) throw new Error(`${op}: outputs must be [batch, classes], got ${shapeStr(output.shape)}`);
  const [rows, classes] = output.shape as [number, number];
  if (classes === 0) throw new Error(`${op}: outputs ${shapeStr(output.shape)} have no classes`);
  if (target.ndim === 1 && target.shape[0] === rows) {
    const t = target._read(op);
    for (let r = 0; r < rows; r++) {
      const c = t[r]!;
      if (!(Number.isInteger(c) && c >= 0 && c < classes)) throw new Error(`${op}: target ${c} at row ${r} is not a class index in [0, ${classes})`);
    }
    return t;
  }
  if (target.ndim === 2 && target.shape[0] === rows && target.shape[1] === classes) {
    return noGrad(() => target.argmax(1))._read(op);
  }
  throw new Error(`${op}: target ${shapeStr(target.shape)} does not match outputs ${shapeStr(output.shape)} (expected [${rows}] class indices or [${rows}, ${classes}] probabilities)`);
}

/** Fraction of rows whose target class is among the k largest outputs (ties count against). */
export class TopK implements Metric {
  /** 'accuracy' for k = 1, else `top${k}`. */
  readonly name: string;
  private hits = 0;
  private total = 0;

  /** @param k - how many of the largest outputs count as a hit (a positive integer) */
  constructor(readonly k: number) {
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) throw new Error(`TopK: k must be a positive integer, got ${valueStr(k)}`);
    this.name = k === 1 ? 'accuracy' : `top${k}`;
  }

  /** Forgets the counts. */
  reset(): void {
    this.hits = 0;
    this.total = 0;
  }

  /**
   * Counts one batch's hits.
   * @param output - the model's outputs, [batch, classes]
   * @param target - class indices [batch] or probability rows [batch, classes]
   */
  update(output: Tensor, target: Tensor): void {
    const classes = targetClasses(`${this.name}.update`, output, target);
    const [rows, c] = output.shape as [number, number];
    if (this.k === 1) {
      // argmax runs in the backend; the comparison is one pass over the rows.
      const pred = noGrad(() => output.argmax(1))._read(this.name);
      for (let r = 0; r < rows; r++) if (pred[r] === classes[r]) this.hits++;
    } else {
      // Rank of the target's score within its row: a hit when fewer than k scores beat it.
      const o = output._read(this.name);
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

  /** Hits / rows since reset() (NaN before any row). */
  compute(): number {
    return this.total === 0 ? Number.NaN : this.hits / this.total;
  }
}

/** Classification accuracy: the share of rows whose argmax is the target class. */
export function accuracy(): Metric {
  return new TopK(1);
}

/**
 * Top-k accuracy: the share of rows whose target class is among the k largest outputs.
 * @param k - a positive integer
 */
export function topK(k: number): Metric {
  return new TopK(k);
}

/** A metric by name: 'accuracy', or 'topK' for any K ('top3', 'top5'). */
export function metricByName(name: string): Metric {
  if (name === 'accuracy' || name === 'acc') return accuracy();
  const m = /^top([1-9]\d{0,5})$/.exec(name);
  if (m) return topK(Number(m[1]));
  throw new Error(`metric '${name}' is unknown; use 'accuracy', 'topK' (e.g. 'top5') or an object with update()/compute()`);
}

/**
 * A confusion matrix: `matrix[t][p]` counts samples of true class t predicted as p. Rows are the
 * true classes, as in scikit-learn.
 */
export class ConfusionMatrix {
  /** `matrix[t][p]`: samples of true class t predicted as p. */
  readonly matrix: number[][];

  /**
   * An empty matrix.
   * @param numClasses - number of classes (1..4096)
   * @param classNames - a name per class (default "0", "1", …)
   */
  constructor(
    readonly numClasses: number,
    readonly classNames: readonly string[] = defaultNames(numClasses),
  ) {
    if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1 || numClasses > MAX_CLASSES) {
      throw new Error(`ConfusionMatrix: numClasses must be an integer in [1, ${MAX_CLASSES}], got ${valueStr(numClasses)}`);
    }
    if (!Array.isArray(classNames)) throw new Error(`ConfusionMatrix: classNames must be an array of strings, got ${valueStr(classNames)}`);
    if (classNames.length !== numClasses) throw new Error(`ConfusionMatrix: ${classNames.length} class names for ${numClasses} classes`);
    classNames.forEach((n: unknown, i) => {
      if (typeof n !== 'string') throw new Error(`ConfusionMatrix: classNames[${i}] must be a string, got ${valueStr(n)}`);
    });
    this.classNames = classNames.slice();
    this.matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  }

  /**
   * Adds a batch of outputs [batch, numClasses] (or predicted class indices [batch]) and targets
   * (class indices [batch], or probabilities [batch, numClasses]). Nothing is counted unless the
   * whole batch is valid.
   */
  update(output: Tensor, target: Tensor): void {
    const op = 'ConfusionMatrix.update';
    requireTensor(op, 'output', output);
    requireTensor(op, 'target', target);
    let pred: ArrayLike<number>;
    let truth: ArrayLike<number>;
    if (output.ndim === 2) {
      if (output.shape[1] !== this.numClasses) throw new Error(`${op}: outputs ${shapeStr(output.shape)} have ${output.shape[1]} classes, the matrix has ${this.numClasses}`);
      truth = targetClasses(op, output, target);
      pred = output.shape[0] === 0 ? new Float32Array(0) : noGrad(() => output.argmax(1))._read(op);
    } else if (output.ndim === 1) {
      if (target.ndim !== 1 || target.shape[0] !== output.shape[0]) {
        throw new Error(`${op}: predicted indices ${shapeStr(output.shape)} need targets of the same shape, got ${shapeStr(target.shape)}`);
      }
      pred = output._read(op);
      truth = target._read(op);
    } else {
      throw new Error(`${op}: outputs must be [batch, classes] or predicted indices [batch], got ${shapeStr(output.shape)}`);
    }
    for (let i = 0; i < pred.length; i++) {
      const t = truth[i]!;
      const p = pred[i]!;
      if (!(Number.isInteger(t) && t >= 0 && t < this.numClasses && Number.isInteger(p) && p >= 0 && p < this.numClasses)) {
        throw new Error(`${op}: sample ${i}: class ${t} / prediction ${p} is outside [0, ${this.numClasses})`);
      }
    }
    for (let i = 0; i < pred.length; i++) this.matrix[truth[i]!]![pred[i]!]!++;
  }

  /** Number of samples counted. */
  get total(): number {
    return this.matrix.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
  }

  /** Share of samples on the diagonal (NaN when empty). */
  get accuracy(): number {
    let diag = 0;
    for (let i = 0; i < this.numClasses; i++) diag += this.matrix[i]![i]!;
    return diag / this.total;
  }

  /** Per class: recall (correct / true count) and precision (correct / predicted count); NaN when undefined. */
  perClass(): {
    /** The class's name. */
    name: string;
    /** Correct / true count of the class. */
    recall: number;
    /** Correct / predicted count of the class. */
    precision: number;
    /** True count of the class. */
    support: number;
  }[] {
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

function defaultNames(numClasses: unknown): string[] {
  return typeof numClasses === 'number' && Number.isInteger(numClasses) && numClasses >= 1 && numClasses <= MAX_CLASSES
    ? Array.from({ length: numClasses }, (_, i) => String(i))
    : [];
}

/**
 * A confusion matrix from outputs [N, classes] (or predicted indices [N]) and targets [N].
 * @param output - the model's outputs [N, classes], or predicted class indices [N]
 * @param target - true class indices [N] (or probability rows [N, classes])
 * @param numClasses - default: the outputs' width, or the largest index seen + 1
 * @param classNames - a name per class, for toString()
 */
export function confusionMatrix(output: Tensor, target: Tensor, numClasses?: number, classNames?: readonly string[]): ConfusionMatrix {
  const op = 'confusionMatrix';
  requireTensor(op, 'output', output);
  requireTensor(op, 'target', target);
  let c = numClasses ?? (output.ndim === 2 ? output.shape[1]! : undefined);
  if (c === undefined) {
    // Predicted indices without a class count: the largest index seen.
    if (output.size === 0 || target.size === 0) throw new Error(`${op}: cannot infer numClasses from empty outputs or targets; pass numClasses`);
    const hi = new Float32Array(1);
    getBackend().reduce('max', output._read(op), 1, output.size, 1, hi, null);
    const hiT = new Float32Array(1);
    getBackend().reduce('max', target._read(op), 1, target.size, 1, hiT, null);
    const top = Math.max(hi[0]!, hiT[0]!);
    if (!(Number.isInteger(top) && top >= 0 && top < MAX_CLASSES)) {
      throw new Error(`${op}: cannot infer numClasses: the largest class index is ${top}, expected an integer in [0, ${MAX_CLASSES}); pass numClasses`);
    }
    c = top + 1;
  }
  // ConfusionMatrix's own errors name it, which is this function's name too (as a class).
  const m = new ConfusionMatrix(c, classNames);
  m.update(output, target);
  return m;
}
