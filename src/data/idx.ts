/**
 * IDX files, the format of MNIST and its relatives (Fashion-MNIST, KMNIST, EMNIST), raw or gzipped.
 *
 * Every size is checked against the header before anything proportional to it is allocated, and a
 * gzip stream is never inflated past the size its own header declares, so a hostile or corrupt
 * file costs at most its own length plus the data it truthfully describes.
 */
import { constants as bufferConstants } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { requireKnownOptions } from '../ops/args.js';
import { allocFloat32, valueStr } from '../shape.js';
import { type Tensor, ownedTensor } from '../tensor.js';

/** The element types an IDX header can declare. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** A parsed IDX file: values in host order, row-major, in a typed array of the declared type. */
export interface IdxArray {
  /** The element type the header declares. */
  dtype: IdxDtype;
  /** The dims the header declares. */
  shape: number[];
  /** The values, row-major, in the array type matching dtype. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: ReadonlyMap<number, { dtype: IdxDtype; size: number }> = new Map([
  [0x08, { dtype: 'uint8', size: 1 }],
  [0x09, { dtype: 'int8', size: 1 }],
  [0x0b, { dtype: 'int16', size: 2 }],
  [0x0c, { dtype: 'int32', size: 4 }],
  [0x0d, { dtype: 'float32', size: 4 }],
  [0x0e, { dtype: 'float64', size: 8 }],
]);

// No real IDX file has more than 4 dims; 16 leaves room while keeping the header probe tiny.
const MAX_DIMS = 16;
// Float32Array indices and the element counts downstream code multiplies stay within int32.
const MAX_ELEMENTS = 2 ** 31 - 1;
// Enough decompressed bytes to hold the longest header we accept.
const HEADER_PROBE = 4 + 4 * MAX_DIMS;
// One deflate input byte can expand to at most ~1032 output bytes, so a probe capped well above
// HEADER_PROBE + 1032 always finds a prefix that yields the header without exceeding the cap.
const PROBE_CAP = 1 << 16;

interface Header {
  dtype: IdxDtype;
  size: number;
  shape: number[];
  headerBytes: number;
  dataBytes: number;
}

/** A validated header and the (decompressed) bytes it describes: the header, then exactly the data. */
interface Decoded {
  header: Header;
  bytes: Uint8Array;
}

function fail(fn: string, name: string, msg: string): never {
  throw new Error(`${fn}: ${name}: ${msg}`);
}

/** An options object whose keys are among `types` (key → 'string' | 'boolean'), each of that type. */
function checkOptions<T extends object>(fn: string, options: unknown, types: Record<string, 'string' | 'boolean'>): Partial<T> {
  const o = requireKnownOptions(fn, options, Object.keys(types));
  for (const [k, want] of Object.entries(types)) {
    if (o[k] !== undefined && typeof o[k] !== want) throw new Error(`${fn}: ${k} must be a ${want}, got ${valueStr(o[k])}`);
  }
  return o as Partial<T>;
}

function checkPath(fn: string, what: string, p: unknown): asserts p is string {
  if (typeof p !== 'string') throw new Error(`${fn}: ${what} must be a path (a string), got ${valueStr(p)}`);
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

function dimsStr(shape: readonly number[]): string {
  return shape.join('×');
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Validates the header in `head` (the first bytes of the decompressed content; `total` is how many
 * there are, or at least HEADER_PROBE when more exist). `what` words "file" vs "decompressed data".
 */
function parseHeader(fn: string, name: string, head: Uint8Array, total: number, what: string): Header {
  if (total < 4) fail(fn, name, `too short for the 4-byte IDX magic: ${what} has ${total} byte${total === 1 ? '' : 's'}`);
  if (head[0] !== 0 || head[1] !== 0) {
    fail(fn, name, `not an IDX file: magic starts ${hex(head[0]!)} ${hex(head[1]!)}, expected two zero bytes`);
  }
  const type = TYPES.get(head[2]!);
  if (type === undefined) {
    const known = [...TYPES].map(([b, t]) => `${hex(b)} ${t.dtype}`).join(', ');
    fail(fn, name, `unknown IDX type byte ${hex(head[2]!)} (known: ${known})`);
  }
  const ndim = head[3]!;
  if (ndim === 0 || ndim > MAX_DIMS) fail(fn, name, `header declares ${ndim} dims; expected 1 to ${MAX_DIMS}`);
  const headerBytes = 4 + 4 * ndim;
  if (total < headerBytes) {
    fail(fn, name, `truncated header: ${ndim} dims need a ${headerBytes}-byte header, ${what} has ${total} bytes`);
  }
  const view = new DataView(head.buffer, head.byteOffset, headerBytes);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  // Multiply with an early exit so the bound is enforced before any product can lose precision.
  let elements = shape.includes(0) ? 0 : 1;
  for (const d of shape) {
    if (elements === 0) break;
    elements *= d;
    if (elements > MAX_ELEMENTS) {
      fail(fn, name, `header declares ${dimsStr(shape)} elements, more than the limit of 2^31 - 1`);
    }
  }
  const dataBytes = elements * type.size;
  if (headerBytes + dataBytes >= bufferConstants.MAX_LENGTH) {
    fail(fn, name, `header declares ${dimsStr(shape)} ${type.dtype} = ${dataBytes} bytes, more than a Buffer can hold`);
  }
  return { dtype: type.dtype, size: type.size, shape, headerBytes, dataBytes };
}

function declared(h: Header): string {
  return `header declares ${dimsStr(h.shape)} ${h.dtype} = ${h.dataBytes} bytes of data`;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function zlibCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Inflates a prefix of a gzip stream as far as it goes; null when the output would pass `cap`. */
function inflatePrefix(fn: string, name: string, gz: Uint8Array, len: number, cap: number): Buffer | null {
  try {
    return zlib.gunzipSync(gz.subarray(0, len), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: cap });
  } catch (e) {
    if (zlibCode(e) === 'ERR_BUFFER_TOO_LARGE') return null;
    return fail(fn, name, `corrupt gzip data (zlib: ${errMessage(e)})`);
  }
}

/**
 * The first HEADER_PROBE decompressed bytes (fewer only when the whole stream is shorter), found by
 * inflating growing prefixes of the compressed bytes, each with bounded output.
 */
function probeGzipHeader(fn: string, name: string, gz: Uint8Array): Uint8Array {
  const n = gz.length;
  let lo = 0; // a prefix length known to yield fewer than HEADER_PROBE bytes
  let len = Math.min(64, n);
  let hi = -1; // a prefix length known to yield more than PROBE_CAP bytes
  for (;;) {
    const out = inflatePrefix(fn, name, gz, len, PROBE_CAP);
    if (out === null) {
      hi = len;
      break;
    }
    if (out.length >= HEADER_PROBE || len === n) return out;
    lo = len;
    len = Math.min(n, len * 2);
  }
  // The doubling overshot into a highly compressed region: bisect back to a prefix in between.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const out = inflatePrefix(fn, name, gz, mid, PROBE_CAP);
    if (out === null) hi = mid;
    else if (out.length >= HEADER_PROBE) return out;
    else lo = mid;
  }
  return fail(fn, name, 'corrupt gzip data: cannot inflate the IDX header within a bounded output');
}

function decodeGzip(fn: string, name: string, gz: Uint8Array): Decoded {
  const head = probeGzipHeader(fn, name, gz);
  const header = parseHeader(fn, name, head, head.length, 'decompressed data');
  const expected = header.headerBytes + header.dataBytes;
  let out: Buffer;
  try {
    out = zlib.gunzipSync(gz, { maxOutputLength: expected + 1 });
  } catch (e) {
    const code = zlibCode(e);
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      fail(fn, name, `${declared(header)} (${expected} bytes with the header), but the gzip stream inflates to more (trailing data, or a gzip bomb)`);
    }
    if (code === 'Z_BUF_ERROR') {
      // Inflate what is there (still bounded) to say how far the stream got.
      let got = -1;
      try {
        got = zlib.gunzipSync(gz, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: expected + 1 }).length;
      } catch {
        // Only the count is lost; the message below still names the problem.
      }
      const found = got < 0 ? '' : `; it inflates to ${got - header.headerBytes} bytes after the ${header.headerBytes}-byte header`;
      fail(fn, name, `truncated gzip stream (it ends before its trailer): ${declared(header)}${found}`);
    }
    return fail(fn, name, `corrupt gzip data (zlib: ${errMessage(e)})`);
  }
  checkDataLength(fn, name, header, out.length - header.headerBytes, 'decompressed data has');
  return { header, bytes: out };
}

function checkDataLength(fn: string, name: string, header: Header, found: number, has: string): void {
  if (found < header.dataBytes) {
    fail(fn, name, `truncated: ${declared(header)}, ${has} ${found} after the ${header.headerBytes}-byte header`);
  }
  if (found > header.dataBytes) {
    fail(fn, name, `${found - header.dataBytes} trailing bytes: ${declared(header)}, ${has} ${found} after the ${header.headerBytes}-byte header (a different file?)`);
  }
}

function readSource(fn: string, source: string | Uint8Array, name: string): Uint8Array {
  if (typeof source === 'string') {
    try {
      return readFileSync(source);
    } catch (e) {
      return fail(fn, name, `cannot read the file: ${errMessage(e)}`);
    }
  }
  if (source instanceof Uint8Array) return source;
  throw new Error(`${fn}: source must be a file path or a Uint8Array, got ${valueStr(source)}`);
}

function decode(fn: string, source: string | Uint8Array, name: string | undefined): Decoded & { name: string } {
  const label = name ?? (typeof source === 'string' ? source : '<bytes>');
  const bytes = readSource(fn, source, label);
  if (isGzip(bytes)) return { ...decodeGzip(fn, label, bytes), name: label };
  const header = parseHeader(fn, label, bytes, bytes.length, 'file');
  checkDataLength(fn, label, header, bytes.length - header.headerBytes, 'file has');
  return { header, bytes, name: label };
}

/** The data as a typed array of its own type: always a fresh buffer, never a view of the input. */
function typedData(d: Decoded): IdxArray['data'] {
  const { header: h, bytes } = d;
  const off = bytes.byteOffset + h.headerBytes;
  const n = h.dataBytes / h.size;
  // Copies via set(): Buffer.prototype.slice would return a view of the input, not a copy.
  if (h.dtype === 'uint8') {
    const out = new Uint8Array(n);
    out.set(bytes.subarray(h.headerBytes, h.headerBytes + n));
    return out;
  }
  if (h.dtype === 'int8') {
    const out = new Int8Array(n);
    out.set(new Int8Array(bytes.buffer, off, n));
    return out;
  }
  const view = new DataView(bytes.buffer, off, h.dataBytes);
  switch (h.dtype) {
    case 'int16': {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/** The data converted straight from the file bytes to float32 (no intermediate typed array). */
function floatData(fn: string, d: Decoded, scale: boolean): Float32Array {
  const { header: h, bytes } = d;
  const n = h.dataBytes / h.size;
  // Through allocFloat32: a dataset is the largest array most programs make (47 MB for
  // Fashion-MNIST's training images), so it gets huge pages where the platform has them.
  const out = allocFloat32(fn, n);
  const base = h.headerBytes;
  if (h.dtype === 'uint8') {
    if (scale) for (let i = 0; i < n; i++) out[i] = bytes[base + i]! / 255;
    else for (let i = 0; i < n; i++) out[i] = bytes[base + i]!;
    return out;
  }
  if (h.dtype === 'int8') {
    for (let i = 0; i < n; i++) out[i] = (bytes[base + i]! << 24) >> 24;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + base, h.dataBytes);
  switch (h.dtype) {
    case 'int16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, false);
      break;
    case 'int32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, false);
      break;
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, false);
      break;
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, false);
      break;
  }
  return out;
}

/**
 * Parses an IDX file (raw or gzip, told apart by the 1f 8b magic, not the name). `source` is a
 * path or the bytes; `name` names it in errors. Multi-byte values are big-endian in the file and
 * come back in host order. Throws on anything malformed: bad magic, unknown type, 0 or > 16 dims,
 * more than 2^31 - 1 elements, truncated data, trailing bytes, corrupt or oversized gzip streams.
 * @param source - a file path or the file's bytes
 * @param options - name
 */
export function readIdx(
  source: string | Uint8Array,
  options: {
    /** What errors call the source (default: the path, or '<bytes>'). */
    name?: string;
  } = {},
): IdxArray {
  const o = checkOptions<{ name: string }>('readIdx', options, { name: 'string' });
  const d = decode('readIdx', source, o.name);
  return { dtype: d.header.dtype, shape: d.header.shape.slice(), data: typedData(d) };
}

/**
 * Any IDX array as a float32 tensor of the same shape. uint8 is scaled to [0, 1] (x / 255) unless
 * `scale: false`, which keeps 0..255; other types convert as they are (int32 and float64 round to
 * the nearest float32).
 * @param source - a file path or the file's bytes
 * @param options - scale, name
 */
export function loadIdxTensor(
  source: string | Uint8Array,
  options: {
    /** Scale uint8 data to [0, 1] (default true). */
    scale?: boolean;
    /** What errors call the source (default: the path, or '<bytes>'). */
    name?: string;
  } = {},
): Tensor {
  const o = checkOptions<{ scale: boolean; name: string }>('loadIdxTensor', options, { scale: 'boolean', name: 'string' });
  const d = decode('loadIdxTensor', source, o.name);
  return ownedTensor(floatData('loadIdxTensor', d, o.scale ?? true), d.header.shape.slice());
}

function pair(fn: string, imagesPath: string, labelsPath: string, flatten: boolean): { x: Tensor; y: Tensor } {
  const labels = decode(fn, labelsPath, undefined);
  const lh = labels.header;
  if (lh.dtype !== 'uint8' || lh.shape.length !== 1) {
    fail(fn, labels.name, `a labels file must be a 1-D uint8 IDX array, this one is ${lh.dtype} [${lh.shape.join(', ')}]`);
  }
  const images = decode(fn, imagesPath, undefined);
  const ih = images.header;
  if (ih.shape.length < 2) {
    fail(fn, images.name, `an images file needs at least 2 dims (count, then each item's dims), this one is [${ih.shape.join(', ')}]`);
  }
  const n = ih.shape[0]!;
  if (n !== lh.shape[0]) {
    fail(fn, images.name, `holds ${n} items but the labels file ${labels.name} holds ${lh.shape[0]} labels`);
  }
  const x = floatData(fn, images, true);
  const xShape = flatten ? [n, n === 0 ? ih.shape.slice(1).reduce((a, b) => a * b, 1) : x.length / n] : ih.shape.slice();
  // uint8 labels are non-negative integers by construction: the dtype check above is the range check.
  const y = floatData(fn, labels, false);
  return { x: ownedTensor(x, xShape), y: ownedTensor(y, [n]) };
}

/**
 * An images file and a labels file: x [N, ...dims] float32 (uint8 images scaled to [0, 1]), y [N]
 * class indices as float32 integers. The labels file must be 1-D uint8 and hold as many labels as
 * there are images. With `flatten: true` (the default) x is [N, rows * cols].
 * @param imagesPath - the images file (idx3, raw or .gz)
 * @param labelsPath - the labels file (idx1, raw or .gz)
 * @param options - flatten
 */
export function loadIdxPair(
  imagesPath: string,
  labelsPath: string,
  options: {
    /** Flatten each image to one row (default true). */
    flatten?: boolean;
  } = {},
): {
  /** Images [N, rows * cols] (or [N, rows, cols] without flatten), scaled to [0, 1]. */
  x: Tensor;
  /** Labels [N]. */
  y: Tensor;
} {
  const o = checkOptions<{ flatten: boolean }>('loadIdxPair', options, { flatten: 'boolean' });
  checkPath('loadIdxPair', 'imagesPath', imagesPath);
  checkPath('loadIdxPair', 'labelsPath', labelsPath);
  return pair('loadIdxPair', imagesPath, labelsPath, o.flatten ?? true);
}

const FOLDER_FILES = {
  trainImages: ['train-images', 'idx3'],
  trainLabels: ['train-labels', 'idx1'],
  testImages: ['t10k-images', 'idx3'],
  testLabels: ['t10k-labels', 'idx1'],
} as const;

/** The spellings tried, in order: the canonical dash form first, raw before gzipped. */
function candidates(stem: string, kind: string): string[] {
  return [`${stem}-${kind}-ubyte`, `${stem}-${kind}-ubyte.gz`, `${stem}.${kind}-ubyte`, `${stem}.${kind}-ubyte.gz`];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A folder in the MNIST layout: train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally gzipped (`.gz`) and with
 * `train-images.idx3-ubyte` (a dot before the kind) also accepted. Where several spellings exist
 * the first of dash-raw, dash-gz, dot-raw, dot-gz wins. Throws listing every missing file.
 * @param dir - the folder
 * @param options - flatten
 * @example
 * ```ts
 * const { train, test } = loadIdxFolder('data/fashion-mnist');
 * await fit(model, { train: [train.x, train.y], validation: [test.x, test.y] });
 * ```
 */
export function loadIdxFolder(
  dir: string,
  options: {
    /** Flatten each image to one row (default true). */
    flatten?: boolean;
  } = {},
): IdxSplit {
  return idxFolder('loadIdxFolder', dir, options);
}

/** The train and test splits of an MNIST-layout folder. */
export interface IdxSplit {
  /** The training images and labels. */
  train: {
    /** Inputs [N, ...]. */
    x: Tensor;
    /** Class indices [N]. */
    y: Tensor;
  };
  /** The test images and labels. */
  test: {
    /** Inputs [N, ...]. */
    x: Tensor;
    /** Class indices [N]. */
    y: Tensor;
  };
}

/** @internal loadIdxFolder, with `fn` (the function the user called, e.g. loadFashionMnist) named in its errors. */
export function idxFolder(fn: string, dir: unknown, options: unknown): IdxSplit {
  const o = checkOptions<{ flatten: boolean }>(fn, options, { flatten: 'boolean' });
  checkPath(fn, 'dir', dir);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    fail(fn, dir, `cannot open the folder: ${errMessage(e)}`);
  }
  if (!isDir) fail(fn, dir, 'not a folder');
  const found: Partial<Record<keyof typeof FOLDER_FILES, string>> = {};
  const missing: string[] = [];
  for (const key of Object.keys(FOLDER_FILES) as (keyof typeof FOLDER_FILES)[]) {
    const [stem, kind] = FOLDER_FILES[key];
    const names = candidates(stem, kind);
    const hit = names.map((f) => join(dir, f)).find(isFile);
    if (hit === undefined) missing.push(`${stem} (looked for ${names.join(', ')})`);
    else found[key] = hit;
  }
  if (missing.length > 0) fail(fn, dir, `missing ${missing.join('; ')}`);
  const flatten = o.flatten ?? true;
  return {
    train: pair(fn, found.trainImages!, found.trainLabels!, flatten),
    test: pair(fn, found.testImages!, found.testLabels!, flatten),
  };
}
