/**
 * Reading and writing the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON describing each tensor, then the raw
 * little-endian data buffer that the JSON's `data_offsets` index.
 *
 * The reader treats every file as hostile: each number in the header is checked against the bytes
 * actually present before anything is allocated from it, and any violation of the format is one
 * error naming the caller, the file and the tensor.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Tensor } from '../tensor.js';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';

/** Parameter name → tensor, with PyTorch's dotted names (`0.weight`, `0.bias`, …). */
export type StateDict = Record<string, Tensor>;

/** Anything with a stateDict() (a Module) or a plain name → Tensor record. */
export type Saveable = { stateDict(): StateDict } | StateDict;

/** Options for {@link serialize}, {@link save} and {@link saveSync}. */
export interface SaveOptions {
  /** Free-form string pairs stored under the header's `__metadata__` key. */
  metadata?: Record<string, string>;
}

/** Everything a safetensors file holds: its tensors (as float32) and its string metadata. */
export interface SafetensorsContents {
  tensors: StateDict;
  metadata: Record<string, string>;
}

/** The reference implementation's bound: a larger header is refused before it is read. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
/** Reads and writes are split so no single call exceeds Node's 2 GiB I/O limit. */
const IO_CHUNK = 64 * 1024 * 1024;

/** Tensor bytes can be copied as they are only where the host order is the file's order. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Builds the error every check throws: `<who>: <file>: <problem>`. */
type Fail = (problem: string) => Error;

function failer(who: string, file: string | undefined): Fail {
  const prefix = file === undefined ? `${who}: ` : `${who}: ${file}: `;
  return (problem) => new Error(prefix + problem);
}

/** A value quoted for a message, cut short so a hostile header cannot make a huge one. */
function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function tensorLabel(name: string): string {
  return `tensor ${show(name)}`;
}

// ---------------------------------------------------------------------------------------------
// dtypes

/**
 * How to turn one dtype's raw little-endian bytes into float32. `raw` always owns a fresh
 * ArrayBuffer of exactly n × size bytes at offset 0, so decoders may reinterpret it in place.
 */
interface Dtype {
  size: number;
  decode(raw: Uint8Array, n: number, fail: (problem: string) => Error): Float32Array;
}

let halfTable: Uint32Array | undefined;

/** float32 bits of one IEEE half: exact for every input, NaN payloads and signs included. */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (man << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
  if (man === 0) return sign >>> 0;
  // Every half subnormal is a float32 normal: shift the mantissa up to its leading one.
  let e = 113;
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

function halfBitsTable(): Uint32Array {
  if (halfTable === undefined) {
    halfTable = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloatBits(h);
  }
  return halfTable;
}

function view(raw: Uint8Array): DataView {
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Integers become float32 only when exact: a silently rounded index or count is a wrong one. */
function checkExact(dtype: string, value: number | bigint, exact: boolean, i: number, fail: (p: string) => Error): void {
  if (!exact) {
    throw fail(`${dtype} value ${value} at element ${i} cannot be held exactly in float32 (tensorgrad stores float32 only)`);
  }
}

function int32Decoder(dtype: 'I32' | 'U32'): Dtype {
  return {
    size: 4,
    decode(raw, n, fail) {
      const dv = view(raw);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dtype === 'I32' ? dv.getInt32(4 * i, true) : dv.getUint32(4 * i, true);
        checkExact(dtype, v, Math.fround(v) === v, i, fail);
        out[i] = v;
      }
      return out;
    },
  };
}

function int64Decoder(dtype: 'I64' | 'U64'): Dtype {
  return {
    size: 8,
    decode(raw, n, fail) {
      const dv = view(raw);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = dv.getUint32(8 * i, true);
        const hi = dtype === 'I64' ? dv.getInt32(8 * i + 4, true) : dv.getUint32(8 * i + 4, true);
        let v: number;
        if (hi >= -0x200000 && hi < 0x200000) {
          // |value| < 2^53: the double sum is exact.
          v = hi * 0x100000000 + lo;
          checkExact(dtype, v, Math.fround(v) === v, i, fail);
        } else {
          const big = dtype === 'I64' ? dv.getBigInt64(8 * i, true) : dv.getBigUint64(8 * i, true);
          v = Number(big);
          checkExact(dtype, big, BigInt(v) === big && Math.fround(v) === v, i, fail);
        }
        out[i] = v;
      }
      return out;
    },
  };
}

/** Small integer types: every value is exact in float32, so only the byte order matters. */
function smallIntDecoder(size: 1 | 2, read: (dv: DataView, offset: number) => number): Dtype {
  return {
    size,
    decode(raw, n) {
      const dv = view(raw);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = read(dv, size * i);
      return out;
    },
  };
}

/** Keyed by the header's dtype string; a Map so names like "toString" find nothing. */
const DTYPES = new Map<string, Dtype>([
  [
    'F32',
    {
      size: 4,
      decode(raw, n) {
        if (HOST_IS_LITTLE_ENDIAN) return new Float32Array(raw.buffer, raw.byteOffset, n);
        const out = new Float32Array(n);
        const bits = new Uint32Array(out.buffer);
        const dv = view(raw);
        // Through integer bits, so NaN payloads survive unchanged.
        for (let i = 0; i < n; i++) bits[i] = dv.getUint32(4 * i, true);
        return out;
      },
    },
  ],
  [
    'F16',
    {
      size: 2,
      decode(raw, n) {
        const table = halfBitsTable();
        const out = new Float32Array(n);
        const bits = new Uint32Array(out.buffer);
        const dv = view(raw);
        for (let i = 0; i < n; i++) bits[i] = table[dv.getUint16(2 * i, true)]!;
        return out;
      },
    },
  ],
  [
    'BF16',
    {
      size: 2,
      decode(raw, n) {
        // bfloat16 is the top half of a float32, so widening is a shift.
        const out = new Float32Array(n);
        const bits = new Uint32Array(out.buffer);
        const dv = view(raw);
        for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
        return out;
      },
    },
  ],
  [
    'F64',
    {
      size: 8,
      decode(raw, n) {
        // Rounds to nearest even, as numpy's and PyTorch's float64 → float32 casts do.
        const out = new Float32Array(n);
        if (HOST_IS_LITTLE_ENDIAN) {
          out.set(new Float64Array(raw.buffer, raw.byteOffset, n));
        } else {
          const dv = view(raw);
          for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
        }
        return out;
      },
    },
  ],
  ['I64', int64Decoder('I64')],
  ['U64', int64Decoder('U64')],
  ['I32', int32Decoder('I32')],
  ['U32', int32Decoder('U32')],
  ['I16', smallIntDecoder(2, (dv, o) => dv.getInt16(o, true))],
  ['U16', smallIntDecoder(2, (dv, o) => dv.getUint16(o, true))],
  ['I8', smallIntDecoder(1, (dv, o) => dv.getInt8(o))],
  ['U8', smallIntDecoder(1, (dv, o) => dv.getUint8(o))],
  [
    'BOOL',
    {
      size: 1,
      decode(raw, n, fail) {
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const b = raw[i]!;
          if (b > 1) throw fail(`BOOL byte ${b} at element ${i} is neither 0 nor 1`);
          out[i] = b;
        }
        return out;
      },
    },
  ],
]);

const READABLE_DTYPES = [...DTYPES.keys()].join(', ');

// ---------------------------------------------------------------------------------------------
// header

/** One validated header entry; begin/end are offsets into the data buffer. */
interface Entry {
  name: string;
  dtype: string;
  codec: Dtype;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

/** A validated header: its entries exactly tile the data buffer. */
interface Layout {
  entries: Entry[];
  metadata: Record<string, string>;
}

/**
 * The header length from the first 8 bytes, checked against the file size before any header
 * byte is read (a u64 is read as a bigint: a hostile 2^63 must not become an imprecise double).
 */
function headerLength(first8: Uint8Array, fileSize: number, fail: Fail): number {
  if (fileSize < 8) throw fail(`file is ${fileSize} bytes, too short for the 8-byte header length`);
  const n = view(first8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw fail(`header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (n > BigInt(fileSize - 8)) {
    throw fail(`truncated: header length is ${n} bytes but only ${fileSize - 8} bytes follow the length field`);
  }
  return Number(n);
}

/**
 * A duplicated key anywhere in the header, or null. JSON.parse keeps the last of duplicates
 * silently, which would let two readers of one file see different tensors, so the (already
 * syntax-checked) text is scanned once for repeats within each object.
 */
function findDuplicateKey(text: string): string | null {
  interface Frame {
    keys: Set<string> | null;
    expectKey: boolean;
    lastKey: string;
  }
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x22) break;
        if (d === 0x5c) {
          escaped = true;
          j++;
        }
        j++;
      }
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const raw = text.slice(i, j + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys.has(key)) {
          const parent = stack.length > 1 ? stack[stack.length - 2]!.lastKey : null;
          return parent === null ? `duplicate key ${show(key)}` : `duplicate key ${show(key)} inside ${show(parent)}`;
        }
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push({ keys: new Set(), expectKey: true, lastKey: '' });
    } else if (c === 0x5b) {
      stack.push({ keys: null, expectKey: false, lastKey: '' });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defines an own property even for names like "__proto__", which plain assignment would not. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function parseEntry(name: string, value: unknown, dataLength: number, fail: Fail): Entry {
  const label = tensorLabel(name);
  if (!isPlainObject(value)) throw fail(`${label}: entry must be an object, got ${show(value)}`);
  const keys = Object.keys(value);
  const wanted = ['dtype', 'shape', 'data_offsets'];
  if (keys.length !== 3 || !wanted.every((k) => Object.prototype.hasOwnProperty.call(value, k))) {
    throw fail(`${label}: entry must have exactly the keys dtype, shape, data_offsets; got ${show(keys)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw fail(`${label}: dtype must be a string, got ${show(dtype)}`);
  const codec = DTYPES.get(dtype);
  if (codec === undefined) throw fail(`${label}: unsupported dtype ${show(dtype)} (readable: ${READABLE_DTYPES})`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw fail(`${label}: shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  const dims = shape as number[];
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw fail(`${label}: data_offsets must be two non-negative integers [begin, end], got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail(`${label}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw fail(`${label}: data_offsets [${begin}, ${end}] run past the end of the ${dataLength}-byte data buffer`);
  }
  let numel = 1;
  for (const d of dims) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) throw fail(`${label}: shape ${show(dims)} has too many elements (the product overflows)`);
  }
  const bytes = numel * codec.size;
  if (!Number.isSafeInteger(bytes)) throw fail(`${label}: shape ${show(dims)} has too many elements (the byte size overflows)`);
  if (bytes !== end - begin) {
    throw fail(
      `${label}: shape ${show(dims)} of ${dtype} needs ${numel} × ${codec.size} = ${bytes} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, codec, shape: dims, numel, begin, end };
}

function parseMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (!isPlainObject(value)) throw fail(`${METADATA_KEY} must be an object of strings, got ${show(value)}`);
  const out: Record<string, string> = {};
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (typeof v !== 'string') throw fail(`${METADATA_KEY} value for ${show(k)} must be a string, got ${show(v)}`);
    setOwn(out, k, v);
  }
  return out;
}

/** Validates the header against a data buffer of `dataLength` bytes; nothing is allocated from it. */
function parseHeader(header: Uint8Array, dataLength: number, fail: Fail): Layout {
  if (header.length === 0 || header[0] !== 0x7b) throw fail('header does not start with "{"');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header);
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw fail(`header is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isPlainObject(parsed)) throw fail('header is not a JSON object');
  const dup = findDuplicateKey(text);
  if (dup !== null) throw fail(`header has a ${dup}`);

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const name of Object.keys(parsed)) {
    if (name === METADATA_KEY) metadata = parseMetadata(parsed[name], fail);
    else entries.push(parseEntry(name, parsed[name], dataLength, fail));
  }

  // The format demands the buffer be exactly tiled: no overlaps (two names for one byte) and no
  // holes (bytes no tensor accounts for). Zero-size tensors sort before one starting at their offset.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < covered && prev !== undefined) {
      throw fail(
        `${tensorLabel(prev.name)} (bytes ${prev.begin}..${prev.end}) and ${tensorLabel(e.name)} (bytes ${e.begin}..${e.end}) overlap`,
      );
    }
    if (e.begin > covered) {
      throw fail(`bytes ${covered}..${e.begin} of the data buffer belong to no tensor (the format forbids holes)`);
    }
    covered = e.end;
    prev = e;
  }
  if (covered !== dataLength) {
    throw fail(`bytes ${covered}..${dataLength} of the data buffer belong to no tensor (the format forbids holes)`);
  }
  return { entries, metadata };
}

function decodeEntry(e: Entry, raw: Uint8Array, fail: Fail): Tensor {
  const label = tensorLabel(e.name);
  const data = e.codec.decode(raw, e.numel, (p) => fail(`${label}: ${p}`));
  return new Tensor(data, e.shape);
}

/** A fresh buffer for one tensor's bytes; its size was already checked against the file. */
function allocRaw(e: Entry, fail: Fail): Uint8Array {
  try {
    return new Uint8Array(e.end - e.begin);
  } catch (err) {
    throw fail(`${tensorLabel(e.name)}: cannot allocate ${e.end - e.begin} bytes: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function assemble(layout: Layout, tensorOf: (e: Entry) => Tensor): SafetensorsContents {
  const tensors: StateDict = {};
  for (const e of layout.entries) setOwn(tensors, e.name, tensorOf(e));
  return { tensors, metadata: layout.metadata };
}

// ---------------------------------------------------------------------------------------------
// reading

/** Parses a whole safetensors file held in memory; `options.name` (a path) prefixes errors. */
export function deserialize(bytes: Uint8Array, options?: { name?: string }): SafetensorsContents {
  const fail = failer('deserialize', options?.name);
  if (!(bytes instanceof Uint8Array)) throw fail(`expected a Uint8Array or Buffer, got ${kindOf(bytes)}`);
  const n = headerLength(bytes.subarray(0, 8), bytes.length, fail);
  const dataStart = 8 + n;
  const layout = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, fail);
  return assemble(layout, (e) => {
    // A copy, not a view: the tensor must not pin (or alias) the caller's file buffer.
    const raw = allocRaw(e, fail);
    raw.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    return decodeEntry(e, raw, fail);
  });
}

function readError(who: string, path: string, err: unknown): Error {
  const inner = err instanceof Error ? err.message : String(err);
  const out = new Error(`${who}: ${path}: cannot read: ${inner}`, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') (out as Error & { code: string }).code = code;
  return out;
}

function readExactSync(fd: number, position: number, into: Uint8Array, fail: Fail): void {
  let done = 0;
  while (done < into.length) {
    const got = readSync(fd, into, done, Math.min(IO_CHUNK, into.length - done), position + done);
    if (got === 0) throw fail(`truncated while reading: the file shrank below ${position + into.length} bytes`);
    done += got;
  }
}

async function readExact(
  fh: Awaited<ReturnType<typeof open>>,
  position: number,
  into: Uint8Array,
  fail: Fail,
): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, Math.min(IO_CHUNK, into.length - done), position + done);
    if (bytesRead === 0) throw fail(`truncated while reading: the file shrank below ${position + into.length} bytes`);
    done += bytesRead;
  }
}

/** Our own validation errors pass through; anything else from fs is wrapped to name the file. */
class FormatError extends Error {}

function loadContentsSync(path: string, who: string): SafetensorsContents {
  const base = failer(who, path);
  const fail: Fail = (p) => new FormatError(base(p).message);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw readError(who, path, err);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw fail('not a regular file');
    const size = stat.size;
    const first8 = new Uint8Array(Math.min(8, size));
    readExactSync(fd, 0, first8, fail);
    const n = headerLength(first8, size, fail);
    const header = new Uint8Array(n);
    readExactSync(fd, 8, header, fail);
    const layout = parseHeader(header, size - 8 - n, fail);
    return assemble(layout, (e) => {
      const raw = allocRaw(e, fail);
      readExactSync(fd, 8 + n + e.begin, raw, fail);
      return decodeEntry(e, raw, fail);
    });
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw readError(who, path, err);
  } finally {
    try {
      closeSync(fd);
    } catch {
      // nothing useful to add to the outcome
    }
  }
}

async function loadContents(path: string, who: string): Promise<SafetensorsContents> {
  const base = failer(who, path);
  const fail: Fail = (p) => new FormatError(base(p).message);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw readError(who, path, err);
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw fail('not a regular file');
    const size = stat.size;
    const first8 = new Uint8Array(Math.min(8, size));
    await readExact(fh, 0, first8, fail);
    const n = headerLength(first8, size, fail);
    const header = new Uint8Array(n);
    await readExact(fh, 8, header, fail);
    const layout = parseHeader(header, size - 8 - n, fail);
    const tensors: StateDict = {};
    for (const e of layout.entries) {
      const raw = allocRaw(e, fail);
      await readExact(fh, 8 + n + e.begin, raw, fail);
      setOwn(tensors, e.name, decodeEntry(e, raw, fail));
    }
    return { tensors, metadata: layout.metadata };
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw readError(who, path, err);
  } finally {
    try {
      await fh.close();
    } catch {
      // nothing useful to add to the outcome
    }
  }
}

/**
 * Reads a safetensors file's tensors (like `safetensors.torch.load_file`). Every dtype becomes
 * float32: F16/BF16 exactly, F64 rounded to nearest, integers and BOOL only when exact.
 */
export async function load(path: string): Promise<StateDict> {
  return (await loadContents(path, 'load')).tensors;
}

/** The synchronous form of {@link load}. */
export function loadSync(path: string): StateDict {
  return loadContentsSync(path, 'loadSync').tensors;
}

/** Reads a safetensors file's tensors and its `__metadata__` strings. */
export async function loadFile(path: string): Promise<SafetensorsContents> {
  return loadContents(path, 'loadFile');
}

/** The synchronous form of {@link loadFile}. */
export function loadFileSync(path: string): SafetensorsContents {
  return loadContentsSync(path, 'loadFileSync');
}

// ---------------------------------------------------------------------------------------------
// writing

/** What a save writes: the length-prefixed, space-padded header, then these tensors in order. */
interface Prepared {
  prefix: Uint8Array;
  tensors: Tensor[];
  total: number;
}

/** Lone surrogates have no UTF-8 form; other readers (the Rust one) reject their JSON escapes. */
const LONE_SURROGATE = /\p{Cs}/u;

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

function stateDictOf(obj: Saveable, fail: Fail): StateDict {
  if (typeof obj !== 'object' || obj === null) throw fail(`expected a Module or a record of name → Tensor, got ${kindOf(obj)}`);
  // Duck-typed so that io does not depend on nn.
  const maybe = obj as { stateDict?: unknown };
  if (typeof maybe.stateDict === 'function') {
    const dict = (maybe.stateDict as () => unknown).call(obj);
    if (typeof dict !== 'object' || dict === null) throw fail(`stateDict() returned ${show(dict)}, not a record of tensors`);
    return dict as StateDict;
  }
  return obj as StateDict;
}

function prepare(obj: Saveable, options: SaveOptions | undefined, who: string): Prepared {
  const fail = failer(who, undefined);
  const dict = stateDictOf(obj, fail);
  const names = Object.keys(dict);
  for (const name of names) {
    if (name === '') throw fail('tensor names must be non-empty');
    if (name === METADATA_KEY) throw fail(`${show(METADATA_KEY)} is reserved for metadata and cannot name a tensor`);
    if (LONE_SURROGATE.test(name)) throw fail(`${tensorLabel(name)}: the name contains a lone UTF-16 surrogate`);
    const t = dict[name];
    if (!((t as unknown) instanceof Tensor)) throw fail(`${tensorLabel(name)}: expected a Tensor, got ${kindOf(t)}`);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw fail(`options must be an object, got ${show(options)}`);
  }
  const meta = options?.metadata;
  if (meta !== undefined && !isPlainObject(meta)) throw fail(`metadata must be a record of strings, got ${show(meta)}`);
  const metaKeys = meta === undefined ? [] : Object.keys(meta);
  for (const k of metaKeys) {
    const v = (meta as Record<string, unknown>)[k];
    if (typeof v !== 'string') throw fail(`metadata value for ${show(k)} must be a string, got ${show(v)}`);
    if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) throw fail(`metadata ${show(k)} contains a lone UTF-16 surrogate`);
  }

  // Sorted by UTF-8 bytes, as the reference writer orders tensors of one dtype: the same state
  // dict always gives the same file, whatever order its keys were inserted in.
  const encoded = names.map((name) => ({ name, key: Buffer.from(name, 'utf8') }));
  encoded.sort((a, b) => Buffer.compare(a.key, b.key));

  const parts: string[] = [];
  if (metaKeys.length > 0) {
    const body = metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify((meta as Record<string, string>)[k])}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${body.join(',')}}`);
  }
  const tensors: Tensor[] = [];
  let offset = 0;
  for (const { name } of encoded) {
    const t = dict[name]!;
    const bytes = t.data.length * 4;
    parts.push(`${JSON.stringify(name)}:{"dtype":"F32","shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${offset + bytes}]}`);
    offset += bytes;
    tensors.push(t);
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  // Spaces pad the header so the data buffer starts 8-aligned, as the reference writer does.
  const n = Math.ceil(json.length / 8) * 8;
  if (n > MAX_HEADER_BYTES) throw fail(`the header would be ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  const prefix = new Uint8Array(8 + n);
  view(prefix).setBigUint64(0, BigInt(n), true);
  prefix.set(json, 8);
  prefix.fill(0x20, 8 + json.length);
  return { prefix, tensors, total: 8 + n + offset };
}

/** The byte pieces of a prepared file, in order; tensor bytes are views, not copies, where possible. */
function* pieces(p: Prepared): Generator<Uint8Array> {
  yield p.prefix;
  for (const t of p.tensors) {
    const d = t.data;
    if (HOST_IS_LITTLE_ENDIAN) {
      yield new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    } else {
      const out = new Uint8Array(d.byteLength);
      const dv = view(out);
      const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
      for (let i = 0; i < d.length; i++) dv.setUint32(4 * i, bits[i]!, true);
      yield out;
    }
  }
}

/**
 * The safetensors bytes of a Module's state dict or a name → Tensor record (always F32). A Node
 * Buffer at run time; typed as Uint8Array so the declarations need no Node types.
 */
export function serialize(obj: Saveable, options?: SaveOptions): Uint8Array {
  const p = prepare(obj, options, 'serialize');
  const out = Buffer.alloc(p.total);
  let pos = 0;
  for (const piece of pieces(p)) {
    out.set(piece, pos);
    pos += piece.length;
  }
  return out;
}

/**
 * Writes a Module's state dict (or a name → Tensor record) to `path` as safetensors, atomically:
 * a crash mid-save leaves the previous file intact (and possibly a `.<name>.<pid>.<hex>.tmp` beside it).
 */
export async function save(obj: Saveable, path: string, options?: SaveOptions): Promise<void> {
  const p = prepare(obj, options, 'save');
  await writeFileAtomic(path, pieces(p), 'save');
}

/** The synchronous form of {@link save}. */
export function saveSync(obj: Saveable, path: string, options?: SaveOptions): void {
  const p = prepare(obj, options, 'saveSync');
  writeFileAtomicSync(path, pieces(p), 'saveSync');
}
