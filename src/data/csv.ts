/**
 * CSV files of numbers (plus an optional label column) read into a float32 feature matrix.
 *
 * Parsing follows RFC 4180 (quoted fields may hold delimiters, doubled quotes and line breaks),
 * accepts LF or CRLF, a leading UTF-8 BOM and a trailing newline, and reports every problem with
 * the 1-based physical line (line breaks inside quotes count) and 1-based column where it is.
 */
import { readFileSync } from 'node:fs';
import { requireKnownOptions } from '../ops/args.js';
import { allocFloat32, valueStr } from '../shape.js';
import { type Tensor, ownedTensor } from '../tensor.js';

/** How to read a CSV file. */
export interface CsvOptions {
  /** Column holding the label (by header name, or 0-based index). Omit for features only. */
  labelColumn?: string | number;
  /** Columns to drop (header names or 0-based indices), e.g. an id column. */
  ignoreColumns?: (string | number)[];
  /** One character, not a quote or a line break. Default ','. */
  delimiter?: string;
  /** Whether the first row names the columns. Default true. */
  header?: boolean;
}

/** What a CSV file holds: the features, and the labels when a label column was named. */
export interface CsvData {
  /** [rows, features] float32. */
  x: Tensor;
  /** [rows] class indices (float32 integers) when `labelColumn` is given, else null. */
  y: Tensor | null;
  /** The header names of the feature columns (their 0-based indices as strings when there is no header). */
  featureNames: string[];
  /**
   * Class names in index order, so `classes[y[i]]` names row i's class. Labels that are all
   * integers in 0..65535, at least half of 0..max occurring, are the indices themselves and
   * `classes` is '0', '1', … up to the largest (values absent from the file included). Other numeric labels map to the rank of their value
   * among the distinct values, and text labels to the rank of the string (UTF-16 code-unit
   * order). Empty when there is no label column.
   */
  classes: string[];
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
// Above this, integer labels are more likely ids or codes than class indices, and a `classes`
// array as long as the largest value would not be justified by the file.
const MAX_DIRECT_CLASS = 65535;
const NUMBER = /^[ \t]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[ \t]*$/;

function quoteForMessage(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return JSON.stringify(shown);
}

/** A pull tokenizer: each next() reads one record into `fields`, tracking physical lines. */
class RecordReader {
  pos: number;
  /** The physical line the next record starts on. */
  line = 1;
  readonly fields: string[] = [];
  readonly fieldLines: number[] = [];
  /** The line the current record started on. */
  recordLine = 0;
  /** The text offset the current record started at. */
  recordStart = 0;
  /** The current record is an empty line (one unquoted empty field). */
  blank = false;

  constructor(
    private readonly text: string,
    start: number,
    private readonly delim: number,
    private readonly fail: (line: number, col: number, msg: string) => never,
  ) {
    this.pos = start;
  }

  private countLines(from: number, to: number): void {
    let i = this.text.indexOf('\n', from);
    while (i >= 0 && i < to) {
      this.line++;
      i = this.text.indexOf('\n', i + 1);
    }
  }

  next(): boolean {
    const t = this.text;
    const n = t.length;
    if (this.pos >= n) return false;
    this.fields.length = 0;
    this.fieldLines.length = 0;
    this.recordLine = this.line;
    this.recordStart = this.pos;
    let quotedAny = false;
    for (;;) {
      const fieldLine = this.line;
      let value: string;
      if (t.charCodeAt(this.pos) === QUOTE) {
        quotedAny = true;
        let start = this.pos + 1;
        let p = start;
        value = '';
        for (;;) {
          const q = t.indexOf('"', p);
          if (q < 0) this.fail(fieldLine, this.fields.length, 'a quoted field is never closed (missing closing quote)');
          this.countLines(p, q);
          if (t.charCodeAt(q + 1) === QUOTE) {
            value += t.slice(start, q + 1);
            p = start = q + 2;
          } else {
            value += t.slice(start, q);
            this.pos = q + 1;
            break;
          }
        }
        const c = t.charCodeAt(this.pos);
        const ok = this.pos >= n || c === this.delim || c === LF || (c === CR && (this.pos + 1 >= n || t.charCodeAt(this.pos + 1) === LF));
        if (!ok) {
          this.fail(this.line, this.fields.length, `${quoteForMessage(t[this.pos]!)} after a closing quote (a quote inside a quoted field must be doubled)`);
        }
        if (c === CR) this.pos++;
      } else {
        let end = this.pos;
        while (end < n) {
          const c = t.charCodeAt(end);
          if (c === this.delim || c === LF) break;
          if (c === QUOTE) {
            this.fail(this.line, this.fields.length, 'a quote inside an unquoted field (quote the whole field and double the quote)');
          }
          end++;
        }
        // The CR of a CRLF, not part of the value; a CR anywhere else stays (and fails as a number).
        const crlf = end > this.pos && t.charCodeAt(end - 1) === CR && (end === n || t.charCodeAt(end) === LF);
        const stop = crlf ? end - 1 : end;
        value = t.slice(this.pos, stop);
        this.pos = end;
      }
      this.fields.push(value);
      this.fieldLines.push(fieldLine);
      if (this.pos >= n) break;
      if (t.charCodeAt(this.pos) === this.delim) {
        this.pos++;
        continue;
      }
      this.pos++; // the LF
      this.line++;
      break;
    }
    this.blank = !quotedAny && this.fields.length === 1 && this.fields[0] === '';
    return true;
  }
}

interface Resolved {
  names: string[];
  label: number;
  features: number[];
}

function resolveColumns(fn: string, where: string, names: string[], hasHeader: boolean, options: CsvOptions): Resolved {
  const listed = (): string => names.map((s) => JSON.stringify(s)).join(', ');
  const resolve = (what: string, col: string | number): number => {
    if (typeof col === 'string') {
      if (!hasHeader) throw new Error(`${fn}: ${where}: ${what} ${JSON.stringify(col)} is a name but header is false; give a 0-based index`);
      const i = names.indexOf(col);
      if (i < 0) throw new Error(`${fn}: ${where}: ${what} ${JSON.stringify(col)} is not a column; the columns are ${listed()}`);
      return i;
    }
    if (typeof col !== 'number' || !Number.isInteger(col) || col < 0 || col >= names.length) {
      throw new Error(`${fn}: ${where}: ${what} ${String(col)} is not a 0-based index of one of the ${names.length} columns (0..${names.length - 1})`);
    }
    return col;
  };
  const label = options.labelColumn === undefined ? -1 : resolve('labelColumn', options.labelColumn);
  const ignored = new Set<number>();
  for (const col of options.ignoreColumns ?? []) {
    const i = resolve('ignoreColumns entry', col);
    if (i === label) throw new Error(`${fn}: ${where}: column ${JSON.stringify(names[i])} is both the labelColumn and in ignoreColumns`);
    ignored.add(i);
  }
  const features: number[] = [];
  for (let i = 0; i < names.length; i++) if (i !== label && !ignored.has(i)) features.push(i);
  return { names, label, features };
}

/** An upper bound on the records left from `start`: by lines, and by characters per record. */
function rowBound(text: string, start: number, columns: number): number {
  if (start >= text.length) return 0;
  let lines = 0;
  for (let i = text.indexOf('\n', start); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  if (text.charCodeAt(text.length - 1) !== LF) lines++;
  // A record of c fields needs at least c - 1 delimiters and a line break, except the last.
  const byChars = Math.floor((text.length - start) / Math.max(columns, 1)) + 1;
  return Math.min(lines, byChars);
}

function classify(labels: string[]): { y: Float32Array; classes: string[] } {
  const n = labels.length;
  const y = new Float32Array(n);
  const values = new Float64Array(n);
  let numeric = true;
  let direct = true;
  let max = -1;
  for (let i = 0; i < n; i++) {
    const s = labels[i]!;
    const v = NUMBER.test(s) ? Number(s) : NaN;
    if (!Number.isFinite(v)) {
      numeric = false;
      break;
    }
    values[i] = v;
    if (!Number.isInteger(v) || v < 0 || v > MAX_DIRECT_CLASS) direct = false;
    else if (v > max) max = v;
  }
  // Sparse integers ({10, 500, 40000}) are codes, not indices: a classifier with 40,001 outputs
  // for three classes would be nonsense. Direct use needs at least half of 0..max to occur.
  if (numeric && direct && (max + 1) / 2 > new Set(values).size) direct = false;
  if (numeric && direct) {
    for (let i = 0; i < n; i++) y[i] = values[i]! + 0; // + 0 turns -0 into 0
    return { y, classes: Array.from({ length: max + 1 }, (_, k) => String(k)) };
  }
  if (numeric) {
    const distinct = [...new Set(values)].sort((a, b) => a - b);
    const rank = new Map(distinct.map((v, k) => [v, k]));
    for (let i = 0; i < n; i++) y[i] = rank.get(values[i]!)!;
    return { y, classes: distinct.map(String) };
  }
  const distinct = [...new Set(labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rank = new Map(distinct.map((s, k) => [s, k]));
  for (let i = 0; i < n; i++) y[i] = rank.get(labels[i]!)!;
  return { y, classes: distinct };
}

const OPTION_KEYS = ['labelColumn', 'ignoreColumns', 'delimiter', 'header', 'name'];

/** The options' types, checked before any work (a string ignoreColumns would iterate its characters). */
function checkOptions(fn: string, options: unknown): CsvOptions & { name?: string } {
  const o = requireKnownOptions(fn, options, OPTION_KEYS);
  const column = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number';
  if (o['name'] !== undefined && typeof o['name'] !== 'string') throw new Error(`${fn}: name must be a string, got ${valueStr(o['name'])}`);
  if (o['header'] !== undefined && typeof o['header'] !== 'boolean') throw new Error(`${fn}: header must be a boolean, got ${valueStr(o['header'])}`);
  if (o['labelColumn'] !== undefined && !column(o['labelColumn'])) {
    throw new Error(`${fn}: labelColumn must be a column name or a 0-based index, got ${valueStr(o['labelColumn'])}`);
  }
  const ig = o['ignoreColumns'];
  if (ig !== undefined) {
    if (!Array.isArray(ig)) throw new Error(`${fn}: ignoreColumns must be an array of column names or 0-based indices, got ${valueStr(ig)}`);
    ig.forEach((c: unknown, i) => {
      if (!column(c)) throw new Error(`${fn}: ignoreColumns must be an array of column names or 0-based indices, got ${valueStr(c)} at position ${i}`);
    });
  }
  return o as CsvOptions & { name?: string };
}

function parse(fn: string, where: string, text: string, options: CsvOptions): CsvData {
  if (typeof text !== 'string') throw new Error(`${fn}: ${where}: text must be a string, got ${valueStr(text)}`);
  const delimiter: unknown = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new Error(`${fn}: ${where}: delimiter must be one character other than a quote or a line break, got ${typeof delimiter === 'string' ? JSON.stringify(delimiter) : valueStr(delimiter)}`);
  }
  const hasHeader = options.header ?? true;
  let names: string[] = [];
  // col is 0-based, or -1 for a problem with the whole record.
  const fail = (line: number, col: number, msg: string): never => {
    const named = hasHeader && col < names.length ? ` (${JSON.stringify(names[col])})` : '';
    throw new Error(`${fn}: ${where}: line ${line}${col >= 0 ? `, column ${col + 1}${named}` : ''}: ${msg}`);
  };
  const reader = new RecordReader(text, text.charCodeAt(0) === 0xfeff ? 1 : 0, delimiter.charCodeAt(0), fail);
  const nextRecord = (): boolean => {
    while (reader.next()) if (!reader.blank) return true;
    return false;
  };

  if (!nextRecord()) throw new Error(`${fn}: ${where}: no ${hasHeader ? 'header row' : 'rows'}: the text is empty or only blank lines`);
  const ncols = reader.fields.length;
  if (hasHeader) {
    const seen = new Map<string, number>();
    reader.fields.forEach((s, i) => {
      const j = seen.get(s);
      if (j !== undefined) fail(reader.recordLine, -1, `duplicate header name ${JSON.stringify(s)} (columns ${j + 1} and ${i + 1})`);
      seen.set(s, i);
    });
    names = reader.fields.slice();
  } else {
    names = Array.from({ length: ncols }, (_, i) => String(i));
  }
  const { label, features } = resolveColumns(fn, where, names, hasHeader, options);
  const nf = features.length;
  // slot[c]: where column c goes: its feature position, LABEL, or SKIP.
  const LABEL = -1;
  const SKIP = -2;
  const slot = new Int32Array(ncols).fill(SKIP);
  features.forEach((c, k) => (slot[c] = k));
  if (label >= 0) slot[label] = LABEL;

  let capacity = rowBound(text, hasHeader ? reader.pos : reader.recordStart, ncols);
  let x = allocFloat32(fn, capacity * nf);
  const labels: string[] = [];
  let rows = 0;
  const countWhat = hasHeader ? 'as in the header' : 'as in the first row';

  const take = (): void => {
    const f = reader.fields;
    if (f.length !== ncols) fail(reader.recordLine, -1, `expected ${ncols} fields (${countWhat}), found ${f.length}`);
    if (rows === capacity) {
      // rowBound is an upper bound, so this should not run; if it ever does, a miscount costs a copy.
      capacity = Math.max(1, capacity * 2);
      const grown = allocFloat32(fn, capacity * nf);
      grown.set(x);
      x = grown;
    }
    const base = rows * nf;
    for (let c = 0; c < ncols; c++) {
      const k = slot[c]!;
      if (k === SKIP) continue;
      const s = f[c]!;
      if (k === LABEL) {
        const v = s.replace(/^[ \t]+|[ \t]+$/g, '');
        if (v === '') fail(reader.fieldLines[c]!, c, 'empty label');
        labels.push(v);
        continue;
      }
      if (!NUMBER.test(s)) {
        fail(reader.fieldLines[c]!, c, /^[ \t]*$/.test(s) ? 'empty value' : `${quoteForMessage(s)} is not a number`);
      }
      const v = Math.fround(Number(s));
      if (!Number.isFinite(v)) fail(reader.fieldLines[c]!, c, `${quoteForMessage(s)} is outside the float32 range`);
      x[base + k] = v;
    }
    rows++;
  };

  if (!hasHeader) take();
  while (nextRecord()) take();

  const data = x.length === rows * nf ? x : x.slice(0, rows * nf);
  const featureNames = features.map((c) => names[c]!);
  if (label < 0) return { x: ownedTensor(data, [rows, nf]), y: null, featureNames, classes: [] };
  const { y, classes } = classify(labels);
  return { x: ownedTensor(data, [rows, nf]), y: ownedTensor(y, [rows]), featureNames, classes };
}

/**
 * Parses CSV text: numeric feature columns, an optional label column, optional ignored columns.
 * Fields are RFC 4180 (quotes, doubled quotes, line breaks inside quotes); LF or CRLF; a leading
 * BOM is dropped. Empty lines anywhere are skipped (they still count for line numbers). Feature
 * values must be decimal numbers, optionally signed, with optional fraction and exponent, and may
 * have spaces or tabs around them; empty, NaN, Infinity, hex and anything else is an error, as is
 * a number outside float32's range. Labels are trimmed of spaces and tabs; see `CsvData.classes`.
 * `name` names the text in errors (default '<string>').
 * @param text - the CSV text
 * @param options - labelColumn, ignoreColumns, delimiter, header, name
 */
export function parseCsv(
  text: string,
  options: CsvOptions & {
    /** What errors call the text (default '<string>'). */
    name?: string;
  } = {},
): CsvData {
  const o = checkOptions('parseCsv', options);
  return parse('parseCsv', o.name ?? '<string>', text, o);
}

/**
 * Reads a UTF-8 CSV file at path `source` and parses it as `parseCsv` does.
 * @param source - the file's path
 * @param options - as parseCsv takes them
 * @example
 * ```ts
 * const { x, y, classes } = loadCsv('iris.csv', { labelColumn: 'species' });
 * ```
 */
export function loadCsv(
  source: string,
  options: CsvOptions & {
    /** What errors call the file (default: its path). */
    name?: string;
  } = {},
): CsvData {
  const o = checkOptions('loadCsv', options);
  if (typeof source !== 'string') throw new Error(`loadCsv: source must be a file path (a string), got ${valueStr(source)}`);
  const where = o.name ?? source;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(readFileSync(source));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`loadCsv: ${where}: cannot read the file as UTF-8 text: ${msg}`);
  }
  return parse('loadCsv', where, text, o);
}
