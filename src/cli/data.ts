import { existsSync, statSync } from 'node:fs';
import { TensorDataset, randomSplit } from '../data/dataset.js';
import { loadCsv, type CsvData } from '../data/csv.js';
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

function csvData(name: string, path: string, labelColumn: string | undefined): LabelledData {
  const col = labelColumn ?? 'label';
  let d: CsvData;
  try {
    d = loadCsv(path, { labelColumn: /^\d+$/.test(col) ? Number(col) : col, delimiter: /\.tsv$/i.test(path) ? '\t' : ',' });
  } catch (e) {
    const msg = (e as Error).message;
    if (labelColumn === undefined && /label column/i.test(msg)) throw new Error(`${msg} (name it with --label-column)`);
    throw e;
  }
  return { name, x: d.x, y: d.y!, classes: d.classes, kind: 'table', labelColumn: typeof col === 'string' ? col : String(col) };
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

function split(d: LabelledData, testFraction: number, seed: number): TrainTestData {
  const n = d.x.shape[0]!;
  const nTest = Math.round(n * testFraction);
  if (nTest < 1 || nTest >= n) throw new UsageError(`--test-split ${testFraction} leaves no ${nTest < 1 ? 'test' : 'training'} rows out of ${n}`);
  const [tr, te] = randomSplit(new TensorDataset(d.x, d.y), [n - nTest, nTest], new Generator(seed));
  const take = (s: typeof tr): LabelledData => ({ ...d, x: d.x.indexSelect(s!.indices), y: d.y.indexSelect(s!.indices) });
  return { train: take(tr), test: take(te) };
}

/**
 * The --data argument: 'digits' (embedded), 'fashion-mnist' (Debian's package), a folder of IDX
 * files in the MNIST layout, or a CSV file (with --test-data, or a seeded --test-split).
 */
export function loadTrainTest(spec: string, opts: { labelColumn?: string; testData?: string; testSplit: number; seed: number }): TrainTestData {
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
  const all = csvData(spec, spec, opts.labelColumn);
  if (opts.testData !== undefined) {
    const test = csvData(opts.testData, opts.testData, opts.labelColumn);
    if (test.x.shape[1] !== all.x.shape[1]) throw new Error(`--test-data has ${test.x.shape[1]} feature columns, --data has ${all.x.shape[1]}`);
    const classes = [...new Set([...all.classes, ...test.classes])];
    return { train: alignClasses(all, classes, spec), test: alignClasses(test, classes, opts.testData) };
  }
  return split(all, opts.testSplit, opts.seed);
}

/** Labelled data for `eval`: the same names as --data, for a model with known classes (test split for built-ins and folders). */
export function loadEvalData(spec: string, classes: readonly string[], labelColumn: string | undefined): LabelledData {
  if (spec === 'digits' || spec === 'fashion-mnist' || (existsSync(spec) && statSync(spec).isDirectory())) {
    return alignClasses(loadTrainTest(spec, { testSplit: 0, seed: 0 }).test, classes, spec);
  }
  if (!existsSync(spec)) throw new UsageError(`--data: '${spec}' is not 'digits', 'fashion-mnist', a folder or a file that exists`);
  if (!isCsv(spec)) throw new UsageError(`--data: '${spec}' is a file but not .csv/.tsv; for IDX files pass their folder`);
  return alignClasses(csvData(spec, spec, labelColumn), classes, spec);
}

/** Inputs for `predict`: a CSV of features (a label column, if named and present, is dropped) or an IDX images file. */
export function loadInputs(path: string, labelColumn: string | undefined): Tensor {
  if (!existsSync(path)) throw new UsageError(`--input: no such file '${path}'`);
  if (!isCsv(path)) {
    const x = loadIdxTensor(path);
    return x.ndim === 1 ? x.reshape(1, x.size) : x.reshape(x.shape[0]!, -1);
  }
  const delimiter = /\.tsv$/i.test(path) ? '\t' : ',';
  try {
    return loadCsv(path, { ignoreColumns: labelColumn !== undefined ? [labelColumn] : [], delimiter }).x;
  } catch (e) {
    // The label column is optional in predict's input: retry without dropping it.
    if (labelColumn !== undefined && /column/i.test((e as Error).message) && /not found|no column|unknown/i.test((e as Error).message)) {
      return loadCsv(path, { delimiter }).x;
    }
    throw e;
  }
}
