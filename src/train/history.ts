/**
 * The shape of a training history, shared by fit() (which records it) and the charts (which draw
 * it). Kept apart from both so neither has to import the other.
 */

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
  epochs: readonly EpochLog[];
  bestEpoch?: number | null;
}
