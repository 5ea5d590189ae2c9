import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { TensorDataset, randomSplit } from '../data/dataset.js';
import { loadCsv, parseCsv, type CsvData } from '../data/csv.js';
import { loadDigits, loadFashionMnist } from '../data/datasets.js';
import { loadIdxFolder, loadIdxTensor } from '../data/idx.js';
import { Generator } from '../random.js';
import { Tensor } from '../tensor.js';
import { UsageError } from './flags.js';

/** A labelled dataset as the CLI uses it: tensors, class names and where it came from. */
export interface LabelledData {
  name: string;
  x: Tensor;
  y: Tensor;
  classes: string[];
  /** 'image' data is already in [0, 1]; 'table' (CSV) data gets standardised by default. */
  kind: 'image' | 'table';
  /** For CSV: the label column, so eval/predict can find or drop it. */
  labelColumn?: string;
  /** For CSV: the feature columns' names, in the order of x's columns. */
  features?: string[];
}

export interface TrainTestData {
  train: LabelledData;
  test: LabelledData;
}

function classesUpTo(y: Tensor): string[] {
  let hi = -1;
  for (let i = 0; i < y.size; i++) hi = Math.max(hi, y.data[i]!);
  return Array.from({ length: hi + 1 }, (_, i) => String(i));
}

function isCsv(path: string): boolean {
  return /\.(csv|tsv|txt)$/i.test(path);
}

function delimiterFor(path: string): string {
  return /\.tsv$/i.test(path) ? '\t' : ',';
}

/** A file's first line (without its line break), read in chunks: the file itself may be large. */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      const end = buf.subarray(0, n).indexOf(0x0a);
      chunks.push(Buffer.from(buf.subarray(0, end < 0 ? n : end)));
      if (end >= 0 || n === 0) break;
    }
    return Buffer.concat(chunks).toString('utf8').replace(/\r$/, '');
  } finally {
    closeSync(fd);
  }
}

const NUMERIC = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * The column names in a CSV file's header row. A first row of numbers is data, not names: without
 * this check a headerless file would silently lose its first row.
 */
function csvHeader(path: string): string[] {
  const text = firstLine(path);
  const names = parseCsv(text, { name: path, delimiter: delimiterFor(path) }).featureNames;
  if (names.length > 0 && names.every((n) => NUMERIC.test(n))) {
    throw new Error(`${path}: the first row holds numbers, not column names; add a header row (e.g. x0,x1,…,label)`);
  }
  return names;
}

function csvData(name: string, path: string, labelColumn: string | undefined, ignoreColumns: string[]): LabelledData {
  const col = labelColumn ?? 'label';
  csvHeader(path);
  let d: CsvData;
  try {
    d = loadCsv(path, { labelColumn: /^\d+$/.test(col) ? Number(col) : col, ignoreColumns, delimiter: delimiterFor(path) });
  } catch (e) {
    const msg = (e as Error).message;
    if (labelColumn === undefined && /label ?column/i.test(msg)) throw new Error(`${msg} (name it with --label-column)`);
    throw e;
  }
  return { name, x: d.x, y: d.y!, classes: d.classes, kind: 'table', labelColumn: col, features: d.featureNames };
}

/**
 * Which CSV columns to skip so the rest are the model's inputs. A model trained on CSV records its
 * feature names: columns are then matched by name (any order; extra columns skipped). Other models
 * (images, PyTorch imports) take every column but the label, in file order. `labelColumn` is the
 * column read as the label (eval), or undefined when no label is read (predict: a label column,
 * if present, is then skipped like any extra column).
 */
function csvFeatures(
  path: string,
  features: readonly string[] | undefined,
  labelColumn: string | undefined,
  modelLabel: string | undefined,
): { ignore: string[]; order: (names: string[]) => number[] | null } {
  const header = csvHeader(path);
  if (features === undefined) {
    const skip = labelColumn === undefined && modelLabel !== undefined && header.includes(modelLabel) ? [modelLabel] : [];
    return { ignore: skip, order: () => null };
  }
  const have = new Set(header);
  const missing = features.filter((f) => !have.has(f));
  if (missing.length > 0) throw new Error(`${path}: missing the model's input column${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((m) => `"${m}"`).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  const wanted = new Set(features);
  const ignore = header.filter((h) => !wanted.has(h) && h !== labelColumn);
  return {
    ignore,
    order: (names) => {
      const at = new Map(names.map((n, i) => [n, i]));
      const perm = features.map((f) => at.get(f)!);
      return perm.every((p, i) => p === i) ? null : perm;
    },
  };
}

function reorderColumns(x: Tensor, perm: number[] | null): Tensor {
  return perm === null ? x : x.T.indexSelect(perm).T;
}

/** Re-numbers `d`'s labels to the class order `classes` (matching by name); unknown names are errors. */
export function alignClasses(d: LabelledData, classes: readonly string[], what: string): LabelledData {
  if (d.classes.length === classes.length && d.classes.every((c, i) => c === classes[i])) return d;
  const map = d.classes.map((c) => classes.indexOf(c));
  const y = new Float32Array(d.y.size);
  for (let i = 0; i < y.length; i++) {
    const to = map[d.y.data[i]!]!;
    if (to < 0) throw new Error(`${what}: label '${d.classes[d.y.data[i]!]}' is not one of the model's classes (${classes.join(', ')})`);
    y[i] = to;
  }
  return { ...d, y: new Tensor(y, [y.length]), classes: classes.slice() };
}

/** Holds out a seeded random `fraction` of the rows (for --test-split and --validation-split): [rest, held out]. */
export function holdOut(d: LabelledData, fraction: number, seed: number, flag: string, heldName: string): [LabelledData, LabelledData] {
  const n = d.x.shape[0]!;
  const nHeld = Math.round(n * fraction);
  if (nHeld < 1 || nHeld >= n) throw new UsageError(`--${flag} ${fraction} leaves no ${nHeld < 1 ? heldName : 'training'} rows out of ${n}`);
  const [rest, held] = randomSplit(new TensorDataset(d.x, d.y), [n - nHeld, nHeld], new Generator(seed));
  const take = (s: typeof rest): LabelledData => ({ ...d, x: d.x.indexSelect(s!.indices), y: d.y.indexSelect(s!.indices) });
  return [take(rest), take(held)];
}

/**
 * The --data argument: 'digits' (embedded), 'fashion-mnist' (Debian's package), a folder of IDX
 * files in the MNIST layout, or a CSV file (with --test-data, or a seeded --test-split).
 */
export function loadTrainTest(
  spec: string,
  opts: { labelColumn?: string | undefined; ignoreColumns?: string[]; testData?: string | undefined; testSplit: number; seed: number },
): TrainTestData {
  if (spec === 'digits' || spec === 'fashion-mnist') {
    const d = spec === 'digits' ? loadDigits() : loadFashionMnist();
    const [xtr, ytr] = d.train.tensors;
    const [xte, yte] = d.test.tensors;
    return {
      train: { name: spec, x: xtr, y: ytr, classes: d.classes, kind: 'image' },
      test: { name: spec, x: xte, y: yte, classes: d.classes, kind: 'image' },
    };
  }
  if (!existsSync(spec)) throw new UsageError(`--data: '${spec}' is not 'digits', 'fashion-mnist', a folder or a file that exists`);
  if (statSync(spec).isDirectory()) {
    const { train, test } = loadIdxFolder(spec);
    const classes = classesUpTo(train.y.size ? train.y : test.y);
    return {
      train: { name: spec, x: train.x, y: train.y, classes, kind: 'image' },
      test: alignClasses({ name: spec, x: test.x, y: test.y, classes: classesUpTo(test.y), kind: 'image' }, classes, 'test data'),
    };
  }
  if (!isCsv(spec)) throw new UsageError(`--data: '${spec}' is a file but not .csv/.tsv; for IDX files pass their folder`);
  const all = csvData(spec, spec, opts.labelColumn, opts.ignoreColumns ?? []);
  if (opts.testData !== undefined) {
    const cols = csvFeatures(opts.testData, all.features, all.labelColumn, all.labelColumn);
    const raw = csvData(opts.testData, opts.testData, all.labelColumn, cols.ignore);
    const test = { ...raw, x: reorderColumns(raw.x, cols.order(raw.features!)), features: all.features };
    // A class the training data never shows cannot be learned: refuse it rather than add an untrained output.
    return { train: all, test: alignClasses(test, all.classes, `--test-data ${opts.testData} (classes of the training data)`) };
  }
  const [train, test] = holdOut(all, opts.testSplit, opts.seed, 'test-split', 'test');
  return { train, test };
}

/** What eval/predict know of the model's inputs. */
export interface InputColumns {
  classes: readonly string[];
  labelColumn?: string | undefined;
  /** CSV feature names recorded at training (null: take every column but the label). */
  features?: string[] | undefined;
}

/** Labelled data for `eval`: the same names as --data (the test split of built-ins and folders); align its classes with alignClasses. */
export function loadEvalData(spec: string, model: InputColumns): LabelledData {
  if (spec === 'digits' || spec === 'fashion-mnist' || (existsSync(spec) && statSync(spec).isDirectory())) {
    return loadTrainTest(spec, { testSplit: 0, seed: 0 }).test;
  }
  if (!existsSync(spec)) throw new UsageError(`--data: '${spec}' is not 'digits', 'fashion-mnist', a folder or a file that exists`);
  if (!isCsv(spec)) throw new UsageError(`--data: '${spec}' is a file but not .csv/.tsv; for IDX files pass their folder`);
  const label = model.labelColumn ?? 'label';
  const cols = csvFeatures(spec, model.features, label, label);
  const d = csvData(spec, spec, label, cols.ignore);
  return { ...d, x: reorderColumns(d.x, cols.order(d.features!)) };
}

/** Inputs for `predict`: a CSV of features (other columns, such as the label, are ignored) or an IDX images file. */
export function loadInputs(path: string, model: InputColumns): Tensor {
  if (!existsSync(path)) throw new UsageError(`--input: no such file '${path}'`);
  if (!isCsv(path)) {
    const x = loadIdxTensor(path);
    return x.ndim === 1 ? x.reshape(1, x.size) : x.reshape(x.shape[0]!, -1);
  }
  const cols = csvFeatures(path, model.features, undefined, model.labelColumn ?? 'label');
  const d = loadCsv(path, { ignoreColumns: cols.ignore, delimiter: delimiterFor(path) });
  return reorderColumns(d.x, cols.order(d.featureNames));
}
