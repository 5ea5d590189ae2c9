import cliProgress from 'cli-progress';
import { valueStr } from '../shape.js';
import { checkEpochLog, type EpochLog } from './history.js';

/**
 * Where progress is written: process.stdout or any stream with write(). A live bar needs a TTY
 * (isTTY, plus cursorTo/clearLine as on Node's tty.WriteStream).
 */
export interface ProgressStream {
  /** Writes text. @param chunk - the text */
  write(chunk: string): unknown;
  /** True for a terminal: 'auto' then draws a live bar. */
  readonly isTTY?: boolean;
}

/** Where fit() reports progress. 'auto': a live bar on a TTY, one line per epoch otherwise. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** The hooks fit() calls; a custom reporter can implement them too. */
export interface ProgressReporter {
  /**
   * Before each epoch.
   * @param epoch - the epoch about to run, 1-based
   * @param epochs - epochs planned
   * @param samples - training samples per epoch
   */
  epochBegin(epoch: number, epochs: number, samples: number): void;
  /**
   * After each step: samples done this epoch, running mean loss, samples per second so far.
   * @param samplesDone - samples done this epoch
   * @param loss - running mean loss of the epoch
   * @param samplesPerSecond - throughput so far
   */
  step(samplesDone: number, loss: number, samplesPerSecond: number): void;
  /**
   * After each epoch.
   * @param log - the epoch's losses and metrics
   * @param epochs - epochs planned
   */
  epochEnd(log: EpochLog, epochs: number): void;
  /** When training ends (also on an error or early stop). */
  end(): void;
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const fmt = (name: string, v: number): string => (/accuracy|^top\d+$/.test(name) ? pct(v) : v.toFixed(4));
const rate = (v: number): string => Math.round(v).toLocaleString('en-US');

/**
 * The one-line summary of an epoch, as printed when not on a TTY. Fields a hand-made log leaves
 * out (validation, lr, timings) are left out of the line.
 * @param log - one epoch of fit()'s history
 * @param epochs - epochs planned (for the `epoch 3/10` counter)
 */
export function formatEpoch(log: EpochLog, epochs: number): string {
  checkEpochLog('formatEpoch', log, 'log');
  if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 1) {
    throw new Error(`formatEpoch: epochs must be a positive integer (the run's epoch count), got ${valueStr(epochs)}`);
  }
  const w = String(epochs).length;
  const parts = [`epoch ${String(log.epoch).padStart(w)}/${epochs}`, `loss ${log.loss.toFixed(4)}`];
  for (const [k, v] of Object.entries(log.metrics ?? {})) parts.push(`${k} ${fmt(k, v)}`);
  if (log.valLoss !== undefined) parts.push(`val loss ${log.valLoss.toFixed(4)}`);
  for (const [k, v] of Object.entries(log.valMetrics ?? {})) parts.push(`val ${k} ${fmt(k, v)}`);
  if (log.lr !== undefined) parts.push(`lr ${log.lr.toPrecision(3)}`);
  if (log.samplesPerSecond !== undefined) parts.push(`${rate(log.samplesPerSecond)} samples/s`);
  if (log.seconds !== undefined) parts.push(`${log.seconds.toFixed(1)}s`);
  return parts.join('  ');
}

class LineReporter implements ProgressReporter {
  constructor(private readonly out: ProgressStream) {}
  epochBegin(): void {}
  step(): void {}
  epochEnd(log: EpochLog, epochs: number): void {
    this.out.write(`${formatEpoch(log, epochs)}\n`);
  }
  end(): void {}
}

/**
 * A cli-progress bar for the running epoch (samples, loss, samples/s, ETA), replaced by the
 * epoch's summary line when the epoch ends, so the terminal keeps one line per finished epoch.
 */
class BarReporter implements ProgressReporter {
  private bar: cliProgress.SingleBar | null = null;

  constructor(private readonly out: ProgressStream) {}

  epochBegin(epoch: number, epochs: number, samples: number): void {
    const w = String(epochs).length;
    this.bar = new cliProgress.SingleBar(
      {
        // cli-progress types its stream as Node's; it only uses cursor control when isTTY is set.
        stream: this.out as unknown as NodeJS.WritableStream,
        format: `epoch ${String(epoch).padStart(w)}/${epochs} {bar} {value}/{total} | loss {loss} | {rate} samples/s | ETA {eta_formatted}`,
        barsize: 24,
        clearOnComplete: true,
        // No terminal modes (hidden cursor, wrap off): a Ctrl-C mid-epoch would leave them set.
        hideCursor: false,
        linewrap: true,
        fps: 8,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(samples, 0, { loss: '-', rate: '-' });
  }

  step(samplesDone: number, loss: number, samplesPerSecond: number): void {
    this.bar?.update(samplesDone, { loss: loss.toFixed(4), rate: rate(samplesPerSecond) });
  }

  epochEnd(log: EpochLog, epochs: number): void {
    this.bar?.stop();
    this.bar = null;
    this.out.write(`${formatEpoch(log, epochs)}\n`);
  }

  end(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

class Silent implements ProgressReporter {
  epochBegin(): void {}
  step(): void {}
  epochEnd(): void {}
  end(): void {}
}

/** The reporter for a mode, writing to `stream` (default stdout). */
export function createProgress(mode: ProgressMode | ProgressReporter, stream: ProgressStream = process.stdout): ProgressReporter {
  if (typeof mode === 'object' && mode !== null) return mode;
  switch (mode) {
    case 'none':
      return new Silent();
    case 'lines':
      return new LineReporter(stream);
    case 'bar':
      return new BarReporter(stream);
    case 'auto':
      return stream.isTTY ? new BarReporter(stream) : new LineReporter(stream);
    default:
      throw new Error(`fit: progress must be 'auto', 'bar', 'lines', 'none' or a reporter, got ${valueStr(mode)}`);
  }
}
