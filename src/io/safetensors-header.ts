/**
 * The safetensors header, validated: nothing in it is trusted, and every number is checked
 * against the bytes actually present before anything is allocated from it.
 */
import { type Tensor, ownedTensor } from '../tensor.js';
import { DTYPES, type Dtype, READABLE_DTYPES, view } from './safetensors-dtypes.js';
import type { SafetensorsContents, StateDict } from './safetensors.js';

export const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = '__metadata__';

/** Builds the error every check throws: `<who>: <file>: <problem>`. */
export type Fail = (problem: string) => Error;

export function failer(who: string, file: string | undefined): Fail {
  const prefix = file === undefined ? `${who}: ` : `${who}: ${file}: `;
  return (problem) => new Error(prefix + problem);
}

/** A value quoted for a message, cut short so a hostile header cannot make a huge one. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function tensorLabel(name: string): string {
  return `tensor ${show(name)}`;
}


/** One validated header entry; begin/end are offsets into the data buffer. */
export interface Entry {
  name: string;
  dtype: string;
  codec: Dtype;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

/** A validated header: its entries exactly tile the data buffer. */
export interface Layout {
  entries: Entry[];
  metadata: Record<string, string>;
}

/**
 * The header length from the first 8 bytes, checked against the file size before any header
 * byte is read (a u64 is read as a bigint: a hostile 2^63 must not become an imprecise double).
 */
export function headerLength(first8: Uint8Array, fileSize: number, fail: Fail): number {
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

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defines an own property even for names like "__proto__", which plain assignment would not. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
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
export function parseHeader(header: Uint8Array, dataLength: number, fail: Fail): Layout {
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

export function decodeEntry(e: Entry, raw: Uint8Array, fail: Fail): Tensor {
  const label = tensorLabel(e.name);
  const data = e.codec.decode(raw, e.numel, (p) => fail(`${label}: ${p}`));
  return ownedTensor(data, e.shape);
}

/** A fresh buffer for one tensor's bytes; its size was already checked against the file. */
export function allocRaw(e: Entry, fail: Fail): Uint8Array {
  try {
    return new Uint8Array(e.end - e.begin);
  } catch (err) {
    throw fail(`${tensorLabel(e.name)}: cannot allocate ${e.end - e.begin} bytes: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function assemble(layout: Layout, tensorOf: (e: Entry) => Tensor): SafetensorsContents {
  const tensors: StateDict = {};
  for (const e of layout.entries) setOwn(tensors, e.name, tensorOf(e));
  return { tensors, metadata: layout.metadata };
}
