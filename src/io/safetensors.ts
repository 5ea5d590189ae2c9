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
import { checkPath, fsError, writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import { view } from './safetensors-dtypes.js';
import {
  allocRaw,
  assemble,
  decodeEntry,
  type Fail,
  failer,
  headerLength,
  isPlainObject,
  MAX_HEADER_BYTES,
  METADATA_KEY,
  parseHeader,
  setOwn,
  show,
  tensorLabel,
} from './safetensors-header.js';

/** Parameter name → tensor, with PyTorch's dotted names (`0.weight`, `0.bias`, …). */
export type StateDict = Record<string, Tensor>;

/** Anything with a stateDict() (a Module) or a plain name → Tensor record. */
export type Saveable =
  | {
      /** The tensors to save, by name (a Module's). */
      stateDict(): StateDict;
    }
  | StateDict;

/** Options for {@link serialize}, {@link save} and {@link saveSync}. */
export interface SaveOptions {
  /** Free-form string pairs stored under the header's `__metadata__` key. */
  metadata?: Record<string, string>;
}

/** Everything a safetensors file holds: its tensors (as float32) and its string metadata. */
export interface SafetensorsContents {
  /** The tensors by name, as float32. */
  tensors: StateDict;
  /** The `__metadata__` strings (`{}` when the file has none). */
  metadata: Record<string, string>;
}

/** The reference implementation's bound: a larger header is refused before it is read. */
/** Reads and writes are split so no single call exceeds Node's 2 GiB I/O limit. */
const IO_CHUNK = 64 * 1024 * 1024;

/** Tensor bytes can be copied as they are only where the host order is the file's order. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// reading

/**
 * Parses a whole safetensors file held in memory; `options.name` (a path) prefixes errors.
 * @param bytes - a whole safetensors file
 * @param options - name
 */
export function deserialize(
  bytes: Uint8Array,
  options?: {
    /** What errors call the bytes (e.g. the path they came from). */
    name?: string;
  },
): SafetensorsContents {
  if (options !== undefined && !isPlainObject(options)) throw new Error(`deserialize: options must be an object, got ${show(options)}`);
  const name: unknown = options?.name;
  if (name !== undefined && typeof name !== 'string') throw new Error(`deserialize: options.name must be a string, got ${show(name)}`);
  return deserializeAs('deserialize', bytes, name);
}

/** @internal deserialize with errors named after `who` (loadModelFromBuffer reads through it). */
export function deserializeAs(who: string, bytes: Uint8Array, name: string | undefined): SafetensorsContents {
  const fail = failer(who, name);
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
    throw fsError(who, path, 'read', err);
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
    throw fsError(who, path, 'read', err);
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
    throw fsError(who, path, 'read', err);
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
    throw fsError(who, path, 'read', err);
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
 * PyTorch: `safetensors.torch.load_file`.
 * @param path - the file
 * @example
 * ```ts
 * model.loadStateDict(await load('weights.safetensors'));
 * ```
 */
export async function load(path: string): Promise<StateDict> {
  return (await readContents('load', path)).tensors;
}

/**
 * The synchronous form of {@link load}.
 * @param path - the file
 */
export function loadSync(path: string): StateDict {
  return loadContentsSync(checkPath('loadSync', path), 'loadSync').tensors;
}

/**
 * Reads a safetensors file's tensors and its `__metadata__` strings.
 * @param path - the file
 */
export async function loadFile(path: string): Promise<SafetensorsContents> {
  return readContents('loadFile', path);
}

/** @internal loadFile with errors named after `who` (loadModel reads through it). */
export async function readContents(who: string, path: string): Promise<SafetensorsContents> {
  return loadContents(checkPath(who, path), who);
}

/**
 * The synchronous form of {@link loadFile}.
 * @param path - the file
 */
export function loadFileSync(path: string): SafetensorsContents {
  return loadContentsSync(checkPath('loadFileSync', path), 'loadFileSync');
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
    try {
      t._check(who);
    } catch {
      throw fail(`${tensorLabel(name)}: ${t.isDisposed ? 'tensor was disposed' : 'tensor data was detached (transferred or resized)'}`);
    }
    // An empty tensor may have any dim; the reader (ours, and JSON readers generally) takes only exact integers.
    if (!t.shape.every((d) => Number.isSafeInteger(d))) {
      throw fail(`${tensorLabel(name)}: shape [${t.shape.join(', ')}] has a dim above 2^53 - 1, which the format's readers cannot represent exactly`);
    }
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
    const bytes = t._read(who).length * 4;
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
function* pieces(p: Prepared, who: string): Generator<Uint8Array> {
  yield p.prefix;
  for (const t of p.tensors) {
    const d = t._read(who);
    // The write may still be reading the array after a dispose(): keep dispose from recycling it.
    t._storage.shared = true;
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
 * PyTorch: `safetensors.torch.save`.
 * @param obj - a Module or a name → Tensor record
 * @param options - metadata
 */
export function serialize(obj: Saveable, options?: SaveOptions): Uint8Array {
  const p = prepare(obj, options, 'serialize');
  const out = Buffer.alloc(p.total);
  let pos = 0;
  for (const piece of pieces(p, 'serialize')) {
    out.set(piece, pos);
    pos += piece.length;
  }
  return out;
}

/**
 * Writes a Module's state dict (or a name → Tensor record) to `path` as safetensors, atomically:
 * a crash mid-save leaves the previous file intact (and possibly a `.<name>.<pid>.<hex>.tmp` beside it).
 * PyTorch: `safetensors.torch.save_file`.
 * @param obj - a Module or a name → Tensor record
 * @param path - the file to write
 * @param options - metadata
 * @example
 * ```ts
 * await save(model, 'weights.safetensors');
 * ```
 */
export async function save(obj: Saveable, path: string, options?: SaveOptions): Promise<void> {
  await saveAs('save', obj, path, options);
}

/** @internal save with errors named after `who` (saveModel writes through it). */
export async function saveAs(who: string, obj: Saveable, path: string, options?: SaveOptions): Promise<void> {
  checkPath(who, path);
  const p = prepare(obj, options, who);
  await writeFileAtomic(path, pieces(p, who), who);
}

/**
 * The synchronous form of {@link save}.
 * @param obj - a Module or a name → Tensor record
 * @param path - the file to write
 * @param options - metadata
 */
export function saveSync(obj: Saveable, path: string, options?: SaveOptions): void {
  checkPath('saveSync', path);
  const p = prepare(obj, options, 'saveSync');
  writeFileAtomicSync(path, pieces(p, 'saveSync'), 'saveSync');
}
