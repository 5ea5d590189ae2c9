/**
 * The shape of a training history, shared by fit() (which records it) and the charts (which draw
 * it). Kept apart from both so neither has to import the other.
 */
import { isRecord } from '../ops/args.js';
import { valueStr } from '../shape.js';

/** One epoch of a training history (what fit() records). */
export interface EpochLog {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  /** Validation loss, when there was validation data. */
  valLoss?: number;
  /** Training metrics, e.g. `{ accuracy: 0.93 }`. */
  metrics: Record<string, number>;
  /** Validation metrics, e.g. `{ accuracy: 0.91 }`; `{}` when there was no validation. */
  valMetrics: Record<string, number>;
  /** Learning rate in effect during the epoch. */
  lr: number;
  /** Wall-clock seconds the epoch took. */
  seconds: number;
  /** Training throughput over the epoch. */
  samplesPerSecond: number;
}

/** A training history: its epochs in order and, when early stopping or checkpointing tracked one, the best epoch. */
export interface HistoryLike {
  /** One log per epoch, in order. */
  epochs: readonly EpochLog[];
  /** The best epoch (1-based), if one was tracked; charts mark it. */
  bestEpoch?: number | null;
}

/**
 * Throws `${fn}: ${where}… ` unless `log` can be drawn or printed as an epoch: `epoch` a finite
 * number and `loss` a number (NaN allowed: a diverged run), every other field absent or of its
 * type. Absent optional fields are simply not shown.
 */
export function checkEpochLog(fn: string, log: unknown, where: string): asserts log is EpochLog {
  if (!isRecord(log)) throw new Error(`${fn}: ${where} must be an epoch log object { epoch, loss, metrics, … }, got ${valueStr(log)}`);
  if (typeof log['epoch'] !== 'number' || !Number.isFinite(log['epoch'])) {
    throw new Error(`${fn}: ${where}.epoch is ${valueStr(log['epoch'])}, expected a finite number`);
  }
  for (const k of ['loss', 'valLoss', 'lr', 'seconds', 'samplesPerSecond']) {
    const v = log[k];
    if (v === undefined && k !== 'loss') continue;
    if (typeof v !== 'number') throw new Error(`${fn}: ${where}.${k} is ${valueStr(v)}, expected a number`);
  }
  for (const k of ['metrics', 'valMetrics']) {
    const table = log[k];
    if (table === undefined) continue;
    if (!isRecord(table)) throw new Error(`${fn}: ${where}.${k} is ${valueStr(table)}, expected a record of metric values`);
    for (const [name, v] of Object.entries(table)) {
      if (typeof v !== 'number') throw new Error(`${fn}: ${where}.${k}.${name} is ${valueStr(v)}, expected a number`);
    }
  }
}
