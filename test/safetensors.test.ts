// safetensors: exact round trips, interchange with files that Python writes and reads by the spec
// (and with PyTorch where it is installed), every reader check, fuzzing, and atomic saves that
// survive a SIGKILL mid-write.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { tensor } from '../src/creation.js';
import * as st from '../src/io/safetensors.js';
import { Linear, ReLU, Sequential } from '../src/nn/index.js';
import { Generator } from '../src/random.js';
import { Tensor } from '../src/tensor.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'tg-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
/** A fresh path in the scratch folder. */
function scratch(name = 'f.safetensors'): string {
  const sub = join(dir, `case${fileCounter++}`);
  mkdirSync(sub);
  return join(sub, name);
}

/** float32 bit patterns, so NaN payloads and -0 compare exactly. */
function bitsOf(t: Tensor): number[] {
  return Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));
}
function fromBits(bits: number[], shape: number[]): Tensor {
  return new Tensor(new Float32Array(new Uint32Array(bits).buffer), shape);
}
const isNaNBits = (b: number): boolean => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;
/** Equal bits, except that any two NaNs match (hardware casts may quiet a NaN differently). */
function expectSameBits(actual: number[], expected: number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const a = actual.map((b, i) => (isNaNBits(b) && isNaNBits(expected[i]!) ? 'NaN' : b));
  const e = expected.map((b) => (isNaNBits(b) ? 'NaN' : b));
  expect(a, what).toEqual(e);
}

function expectSameDict(actual: st.StateDict, expected: st.StateDict): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const k of Object.keys(expected)) {
    expect(actual[k]!.shape, k).toEqual(expected[k]!.shape);
    expect(bitsOf(actual[k]!), k).toEqual(bitsOf(expected[k]!));
  }
}

/** A file built by hand: header JSON (object or exact text), then `data` bytes. */
function rawFile(header: unknown, data: ArrayLike<number> = [], pad = false): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const json = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}
function le(kind: 'u16' | 'u32' | 'f64' | 'i32' | 'i64' | 'u64', values: (number | bigint)[]): number[] {
  const size = kind === 'u16' ? 2 : kind === 'u32' || kind === 'i32' ? 4 : 8;
  const dv = new DataView(new ArrayBuffer(size * values.length));
  values.forEach((v, i) => {
    if (kind === 'u16') dv.setUint16(2 * i, Number(v), true);
    else if (kind === 'u32') dv.setUint32(4 * i, Number(v), true);
    else if (kind === 'i32') dv.setInt32(4 * i, Number(v), true);
    else if (kind === 'f64') dv.setFloat64(8 * i, Number(v), true);
    else if (kind === 'i64') dv.setBigInt64(8 * i, BigInt(v), true);
    else dv.setBigUint64(8 * i, BigInt(v), true);
  });
  return Array.from(new Uint8Array(dv.buffer));
}
const one = (dtype: string, shape: number[], bytes: number[]): Uint8Array =>
  rawFile({ t: { dtype, shape, data_offsets: [0, bytes.length] } }, bytes);

const BAD = 'bad.safetensors';
function expectBad(bytes: Uint8Array, message: string | RegExp): void {
  expect(() => st.deserialize(bytes, { name: BAD })).toThrow(message);
  // Every error names the caller and the file.
  expect(() => st.deserialize(bytes, { name: BAD })).toThrow(/^deserialize: bad\.safetensors: /);
}

function randomDict(): st.StateDict {
  const g = new Generator(1234);
  const make = (shape: number[]): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = g.nextFloat() * 8 - 4;
    return new Tensor(d, shape);
  };
  return {
    'layer.0.weight': make([3, 4]),
    'layer.0.bias': make([3]),
    scalar: make([]),
    empty: make([0]),
    'empty.middle': make([3, 0, 2]),
    cube: make([2, 3, 4]),
    ones: make([1, 1, 1, 1, 1]),
    special: fromBits([0x7fc00000, 0x7f800001, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x7f7fffff], [8]),
    'ünï.cödé😀': make([2]),
  };
}
const META = { format: 'pt', note: 'ünïcödé ✓ 😀 "quoted" \\ back', empty: '' };

describe('round trips', () => {
  it('serialize/deserialize is bit-exact for every shape, with metadata', () => {
    const dict = randomDict();
    const bytes = st.serialize(dict, { metadata: META });
    const back = st.deserialize(bytes);
    expectSameDict(back.tensors, dict);
    expect(back.metadata).toEqual(META);
    expect(st.deserialize(st.serialize(dict)).metadata).toEqual({});
  });

  it('writes a space-padded header (8-aligned data), tensors sorted by name, independent of insertion order', () => {
    const dict = randomDict();
    const bytes = st.serialize(dict, { metadata: META });
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    const padding = text.slice(text.lastIndexOf('}') + 1);
    expect(padding).toMatch(/^ {0,7}$/);
    const header = JSON.parse(text) as Record<string, { data_offsets: [number, number]; dtype: string }>;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const byOffset = [...names].sort((a, b) => header[a]!.data_offsets[0] - header[b]!.data_offsets[0]);
    const byUtf8 = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(byOffset).toEqual(byUtf8);
    expect(names.every((k) => header[k]!.dtype === 'F32')).toBe(true);
    const reversed: st.StateDict = {};
    for (const k of Object.keys(dict).reverse()) reversed[k] = dict[k]!;
    expect(Buffer.compare(st.serialize(reversed, { metadata: META }), bytes)).toBe(0);
  });

  it('loaded tensors own their memory (no view on the file buffer)', () => {
    const dict = { a: tensor([1, 2, 3]), b: tensor([[4, 5]]) };
    const bytes = st.serialize(dict);
    const back = st.deserialize(bytes).tensors;
    for (const t of Object.values(back)) {
      expect(t.data.buffer).not.toBe(bytes.buffer);
      expect(t.data.buffer.byteLength).toBe(t.data.byteLength);
    }
    bytes.fill(0);
    expect(Array.from(back.a!.data)).toEqual([1, 2, 3]);
  });

  it('serializes tensors that are views (slices, reshapes) of larger buffers', () => {
    const base = tensor([0, 1, 2, 3, 4, 5, 6, 7]);
    const part = new Tensor(base.data.subarray(3, 7), [2, 2]);
    const back = st.deserialize(st.serialize({ part })).tensors;
    expect(Array.from(back.part!.data)).toEqual([3, 4, 5, 6]);
  });

  it('save/load, saveSync/loadSync, loadFile/loadFileSync agree and are exact', async () => {
    const dict = randomDict();
    const p1 = scratch();
    const p2 = scratch();
    await st.save(dict, p1, { metadata: META });
    st.saveSync(dict, p2, { metadata: META });
    expect(Buffer.compare(readFileSync(p1), readFileSync(p2))).toBe(0);
    expect(Buffer.compare(readFileSync(p1), st.serialize(dict, { metadata: META }))).toBe(0);
    expectSameDict(await st.load(p1), dict);
    expectSameDict(st.loadSync(p1), dict);
    const a = await st.loadFile(p2);
    const b = st.loadFileSync(p2);
    expectSameDict(a.tensors, dict);
    expectSameDict(b.tensors, dict);
    expect(a.metadata).toEqual(META);
    expect(b.metadata).toEqual(META);
  });

  it('names like __proto__ and constructor stay ordinary own keys', () => {
    const dict: st.StateDict = {};
    Object.defineProperty(dict, '__proto__', { value: tensor([1]), enumerable: true });
    Object.assign(dict, { constructor: tensor([2]), toString: tensor([3]) });
    const back = st.deserialize(st.serialize(dict)).tensors;
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Array.from(Object.getOwnPropertyDescriptor(back, '__proto__')!.value.data as Float32Array)).toEqual([1]);
    expect(Array.from((back['constructor'] as unknown as Tensor).data)).toEqual([2]);
    const meta = st.deserialize(rawFile('{"__metadata__":{"__proto__":"x"}}')).metadata;
    expect(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value).toBe('x');
  });

  it('a Module round trips: a fresh model loaded from the file gives the same outputs', async () => {
    const model = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    const path = scratch('model.safetensors');
    await st.save(model, path, { metadata: { arch: 'mlp' } });
    const { tensors, metadata } = st.loadFileSync(path);
    expect(Object.keys(tensors).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight']);
    expect(metadata).toEqual({ arch: 'mlp' });
    const fresh = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    const x = tensor([[0.5, -1, 2, 0.25], [1, 1, -1, -3], [0, 0, 0, 0]]);
    expect(bitsOf(fresh.forward(x))).not.toEqual(bitsOf(model.forward(x)));
    fresh.loadStateDict(tensors);
    expect(bitsOf(fresh.forward(x))).toEqual(bitsOf(model.forward(x)));
  });
});

describe('conversions from other dtypes', () => {
  it('F16 → F32 is exact on known bit patterns (zeros, subnormals, normals, max, inf, NaN payloads)', () => {
    const cases: [number, number][] = [
      [0x0000, 0x00000000], // +0
      [0x8000, 0x80000000], // -0
      [0x0001, 0x33800000], // smallest subnormal 2^-24
      [0x8001, 0xb3800000],
      [0x0200, 0x38000000], // subnormal 2^-15
      [0x03ff, 0x387fc000], // largest subnormal
      [0x0400, 0x38800000], // smallest normal 2^-14
      [0x3c00, 0x3f800000], // 1
      [0xc000, 0xc0000000], // -2
      [0x3555, 0x3eaaa000], // ≈ 1/3
      [0x7bff, 0x477fe000], // 65504
      [0x7c00, 0x7f800000], // +inf
      [0xfc00, 0xff800000], // -inf
      [0x7e00, 0x7fc00000], // quiet NaN
      [0x7c01, 0x7f802000], // signalling NaN, payload kept
      [0xfe01, 0xffc02000], // negative NaN with payload
    ];
    const t = st.deserialize(one('F16', [cases.length], le('u16', cases.map((c) => c[0])))).tensors.t!;
    expect(bitsOf(t).map((b) => b.toString(16))).toEqual(cases.map((c) => c[1].toString(16)));
  });

  it('F16 → F32 agrees with value arithmetic for all 65536 halves', () => {
    const all = Array.from({ length: 65536 }, (_, h) => h);
    const t = st.deserialize(one('F16', [65536], le('u16', all))).tensors.t!;
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const v = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
      if (Number.isNaN(v)) expect(Number.isNaN(t.data[h]!), `half 0x${h.toString(16)}`).toBe(true);
      else if (t.data[h] !== v || Object.is(v, -0) !== Object.is(t.data[h], -0)) expect(t.data[h], `half 0x${h.toString(16)}`).toBe(v);
    }
  });

  it('BF16 → F32 is exact (the top half of the float32 bits)', () => {
    const halves = [0x0000, 0x8000, 0x3f80, 0xc049, 0x0001, 0x807f, 0x7f7f, 0x7f80, 0xff80, 0x7fc0, 0x7f81];
    const t = st.deserialize(one('BF16', [halves.length], le('u16', halves))).tensors.t!;
    expect(bitsOf(t)).toEqual(halves.map((h) => (h << 16) >>> 0));
  });

  it('F64 → F32 rounds to nearest even; overflow gives ±inf', () => {
    const vals = [Math.PI, 0.1, -0, 16777217, 16777219, 1e300, -1e300, 2 ** -149, 2 ** -150, 1e-50, NaN];
    const t = st.deserialize(one('F64', [vals.length], le('f64', vals))).tensors.t!;
    const want = vals.map((v) => Math.fround(v));
    expect(Array.from(t.data)).toEqual(want);
    expect(Object.is(t.data[2], -0)).toBe(true);
  });

  it('integers and BOOL convert when exact and are refused (naming tensor, value, element) when not', () => {
    const i64 = st.deserialize(one('I64', [5], le('i64', [0n, -1n, 16777216n, -(2n ** 40n), 2n ** 62n]))).tensors.t!;
    expect(Array.from(i64.data)).toEqual([0, -1, 16777216, -(2 ** 40), 2 ** 62]);
    const u64 = st.deserialize(one('U64', [2], le('u64', [2n ** 64n - 2n ** 40n, 5n]))).tensors.t!;
    expect(Array.from(u64.data)).toEqual([2 ** 64 - 2 ** 40, 5]);
    expect(Array.from(st.deserialize(one('I32', [3], le('i32', [-7, 2 ** 30, -(2 ** 31)]))).tensors.t!.data)).toEqual([-7, 2 ** 30, -(2 ** 31)]);
    expect(Array.from(st.deserialize(one('U32', [1], le('u32', [2 ** 32 - 2 ** 8]))).tensors.t!.data)).toEqual([2 ** 32 - 2 ** 8]);
    expect(Array.from(st.deserialize(one('I16', [2], [0xff, 0xff, 0x00, 0x80])).tensors.t!.data)).toEqual([-1, -32768]);
    expect(Array.from(st.deserialize(one('U16', [1], [0xff, 0xff])).tensors.t!.data)).toEqual([65535]);
    expect(Array.from(st.deserialize(one('I8', [2], [0xff, 0x80])).tensors.t!.data)).toEqual([-1, -128]);
    expect(Array.from(st.deserialize(one('U8', [2], [0xff, 7])).tensors.t!.data)).toEqual([255, 7]);
    expect(Array.from(st.deserialize(one('BOOL', [3], [1, 0, 1])).tensors.t!.data)).toEqual([1, 0, 1]);

    expectBad(one('I64', [2], le('i64', [1n, 16777217n])), 'tensor "t": I64 value 16777217 at element 1 cannot be held exactly in float32');
    expectBad(one('I64', [1], le('i64', [2n ** 62n + 1n])), 'tensor "t": I64 value 4611686018427387905 at element 0 cannot be held exactly');
    expectBad(one('U64', [1], le('u64', [2n ** 64n - 1n])), /U64 value 18446744073709551615 at element 0 cannot be held exactly/);
    expectBad(one('I32', [1], le('i32', [16777217])), /I32 value 16777217 at element 0/);
    expectBad(one('U32', [1], le('u32', [2 ** 32 - 1])), /U32 value 4294967295 at element 0/);
    expectBad(one('BOOL', [2], [1, 2]), 'tensor "t": BOOL byte 2 at element 1 is neither 0 nor 1');
  });
});

describe('the reader refuses malformed files with one clear error', () => {
  const good = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Array<number>(8).fill(0);

  it('too short for the length field; header length over the bound or past the end', () => {
    expectBad(new Uint8Array(0), 'file is 0 bytes, too short for the 8-byte header length');
    expectBad(new Uint8Array(7), 'file is 7 bytes, too short');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expectBad(huge, 'header length 9223372036854775808 exceeds the limit of 100000000 bytes');
    new DataView(huge.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    expectBad(huge, /header length 18446744073709551615 exceeds the limit/);
    new DataView(huge.buffer).setBigUint64(0, 100_000_001n, true);
    expectBad(huge, /exceeds the limit/);
    new DataView(huge.buffer).setBigUint64(0, 9n, true);
    expectBad(huge, 'truncated: header length is 9 bytes but only 8 bytes follow the length field');
  });

  it('header not a UTF-8 JSON object starting with "{"', () => {
    expectBad(rawFile(''), 'header does not start with "{"');
    expectBad(rawFile(' {}'), 'header does not start with "{"');
    expectBad(rawFile('[1]'), 'header does not start with "{"');
    const badUtf8 = rawFile('{"a":"xx"}');
    badUtf8[8 + 7] = 0xff;
    expectBad(badUtf8, 'header is not valid UTF-8');
    expectBad(rawFile('{"a":'), /header is not valid JSON: /);
    expectBad(rawFile('{} x'), /header is not valid JSON: /);
  });

  it('duplicate keys, at the top level and inside entries or metadata', () => {
    const e = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expectBad(rawFile(`{"a":${e},"a":${e}}`, [0, 0, 0, 0, 0, 0, 0, 0]), 'header has a duplicate key "a"');
    expectBad(rawFile(`{"a":${e},"\\u0061":${e}}`, eight), 'duplicate key "a"');
    expectBad(rawFile(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, [0, 0, 0, 0]), 'duplicate key "dtype" inside "a"');
    expectBad(rawFile(`{"__metadata__":{"k":"1","k":"2"}}`), 'duplicate key "k" inside "__metadata__"');
    // Equal strings in values and arrays are not keys.
    expect(() => st.deserialize(rawFile(`{"__metadata__":{"k":"k","j":"k"},"k":${e}}`, [0, 0, 0, 0]))).not.toThrow();
  });

  it('entries: not an object, wrong keys', () => {
    expectBad(rawFile({ t: [1] }), 'tensor "t": entry must be an object, got [1]');
    expectBad(rawFile({ t: null }), 'tensor "t": entry must be an object, got null');
    expectBad(rawFile({ t: { dtype: 'F32', shape: [2] } }), 'tensor "t": entry must have exactly the keys dtype, shape, data_offsets; got ["dtype","shape"]');
    expectBad(rawFile({ t: { ...good.t, extra: 1 } }, eight), /tensor "t": entry must have exactly the keys/);
    expectBad(rawFile({ t: { dtype: 'F32', shape: [2], offsets: [0, 8] } }, eight), /exactly the keys/);
  });

  it('dtype: not a string, unknown, or a known one we cannot hold', () => {
    expectBad(rawFile({ t: { ...good.t, dtype: 4 } }, eight), 'tensor "t": dtype must be a string, got 4');
    for (const d of ['F8_E4M3', 'F8_E5M2', 'C64', 'f32', 'toString', '__proto__']) {
      expectBad(rawFile({ t: { ...good.t, dtype: d } }, eight), `tensor "t": unsupported dtype "${d}" (readable: F32, F16, BF16, F64`);
    }
  });

  it('shape: not an array of non-negative safe integers, or overflowing', () => {
    for (const shape of [2, null, [-1], [1.5], ['2'], [2 ** 53], [[2]]]) {
      expectBad(rawFile({ t: { ...good.t, shape } }, eight), 'tensor "t": shape must be an array of non-negative integers');
    }
    expectBad(
      rawFile({ t: { ...good.t, shape: [2 ** 40, 2 ** 40] } }, eight),
      'tensor "t": shape [1099511627776,1099511627776] has too many elements (the product overflows)',
    );
    expectBad(rawFile({ t: { ...good.t, shape: [2 ** 26, 2 ** 26] } }, eight), /the byte size overflows/);
  });

  it('data_offsets: not two non-negative integers, reversed, past the end, wrong length', () => {
    for (const o of [[0], [0, 8, 9], [-1, 7], [0, 8.5], ['0', 8], null, [0, 2 ** 53]]) {
      expectBad(rawFile({ t: { ...good.t, data_offsets: o } }, eight), 'tensor "t": data_offsets must be two non-negative integers [begin, end]');
    }
    expectBad(rawFile({ t: { ...good.t, data_offsets: [8, 0] } }, eight), 'tensor "t": data_offsets [8, 0] end before they begin');
    expectBad(rawFile({ t: { ...good.t, data_offsets: [0, 12] } }, eight), 'tensor "t": data_offsets [0, 12] run past the end of the 8-byte data buffer');
    expectBad(rawFile({ t: { ...good.t, shape: [3] } }, eight), 'tensor "t": shape [3] of F32 needs 3 × 4 = 12 bytes, but data_offsets [0, 8] span 8');
    expectBad(rawFile({ t: { ...good.t, dtype: 'F64' } }, eight), /needs 2 × 8 = 16 bytes/);
  });

  it('overlaps, holes and uncovered bytes in the data buffer', () => {
    const f = (a: [number, number], b: [number, number], len: number): Uint8Array =>
      rawFile(
        { a: { dtype: 'U8', shape: [a[1] - a[0]], data_offsets: a }, b: { dtype: 'U8', shape: [b[1] - b[0]], data_offsets: b } },
        new Array<number>(len).fill(0),
      );
    expectBad(f([0, 6], [4, 8], 8), 'tensor "a" (bytes 0..6) and tensor "b" (bytes 4..8) overlap');
    expectBad(f([0, 8], [0, 8], 8), /overlap/);
    expectBad(f([0, 8], [4, 4], 8), /overlap/);
    expectBad(f([0, 2], [4, 8], 8), 'bytes 2..4 of the data buffer belong to no tensor (the format forbids holes)');
    expectBad(f([2, 4], [4, 8], 8), 'bytes 0..2 of the data buffer belong to no tensor');
    expectBad(f([0, 2], [2, 4], 8), 'bytes 4..8 of the data buffer belong to no tensor');
    expectBad(rawFile({}, [0]), 'bytes 0..1 of the data buffer belong to no tensor');
    // Zero-size tensors at a boundary, and anywhere in an empty buffer, are fine.
    expect(Object.keys(st.deserialize(f([0, 4], [4, 4], 4)).tensors)).toEqual(['a', 'b']);
    expect(Object.keys(st.deserialize(f([0, 0], [0, 0], 0)).tensors)).toEqual(['a', 'b']);
  });

  it('__metadata__ must be an object of strings', () => {
    expectBad(rawFile({ __metadata__: 'x' }), '__metadata__ must be an object of strings, got "x"');
    expectBad(rawFile({ __metadata__: null }), '__metadata__ must be an object of strings, got null');
    expectBad(rawFile({ __metadata__: ['a'] }), /__metadata__ must be an object of strings/);
    expectBad(rawFile({ __metadata__: { a: 'b', n: 1 } }), '__metadata__ value for "n" must be a string, got 1');
  });

  it('accepts what the spec allows: unpadded headers, unaligned data, any key order, trailing spaces', () => {
    const bytes = rawFile(`{"b":{"shape":[1],"data_offsets":[4,8],"dtype":"F32"},"a":{"data_offsets":[0,4],"dtype":"F32","shape":[]}}   `, [
      0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0,
    ]);
    expect((bytes.length - 8) % 8).not.toBe(0);
    const t = st.deserialize(bytes).tensors;
    expect(t.a!.shape).toEqual([]);
    expect(Array.from(t.a!.data)).toEqual([1]);
    expect(Array.from(t.b!.data)).toEqual([-2]);
    // An offset into an odd position of a Buffer still reads correctly (the copy realigns it).
    const shifted = Buffer.alloc(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(Array.from(st.deserialize(shifted.subarray(3)).tensors.b!.data)).toEqual([-2]);
  });

  it('errors without a name still name the function; non-bytes input is refused', () => {
    expect(() => st.deserialize(new Uint8Array(3))).toThrow(/^deserialize: file is 3 bytes/);
    expect(() => st.deserialize('abc' as unknown as Uint8Array)).toThrow('deserialize: expected a Uint8Array or Buffer, got string');
  });

  it('refuses a huge declared shape without allocating for it', () => {
    // 2^40 × 2^40 elements would need 2^82 bytes; the check must come before any allocation.
    expectBad(rawFile({ t: { dtype: 'U8', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 1] } }, [0]), /product overflows/);
    expectBad(rawFile({ t: { dtype: 'F32', shape: [2 ** 30], data_offsets: [0, 2 ** 32] } }, [0]), /run past the end of the 1-byte data buffer/);
  });
});

describe('files on disk', () => {
  it('a path that is not a non-empty string is refused before any fs call, naming the function', async () => {
    const junk = (v: unknown) => v as never;
    const t = { a: tensor([1, 2]) };
    for (const bad of [NaN, 1n, null, {}, [1, 'x'], '']) {
      const got = bad === '' ? "string ''" : typeof bad === 'bigint' ? 'bigint 1n' : bad === null ? 'null' : Array.isArray(bad) ? 'an array' : typeof bad === 'object' ? 'Object' : 'NaN';
      expect(() => st.saveSync(t, junk(bad))).toThrow(`saveSync: path must be a non-empty string, got ${got}`);
      await expect(st.save(t, junk(bad))).rejects.toThrow(`save: path must be a non-empty string, got ${got}`);
      expect(() => st.loadSync(junk(bad))).toThrow(`loadSync: path must be a non-empty string, got ${got}`);
      expect(() => st.loadFileSync(junk(bad))).toThrow(`loadFileSync: path must be a non-empty string, got ${got}`);
      await expect(st.load(junk(bad))).rejects.toThrow(`load: path must be a non-empty string, got ${got}`);
      await expect(st.loadFile(junk(bad))).rejects.toThrow(`loadFile: path must be a non-empty string, got ${got}`);
    }
  });

  it('a tensor whose buffer was transferred away is refused by name, by the function called', () => {
    const t = tensor([1, 2]);
    structuredClone(t.data.buffer, { transfer: [t.data.buffer as ArrayBuffer] });
    expect(() => st.serialize({ w: t })).toThrow('serialize: tensor "w": tensor data was detached (transferred or resized)');
    expect(() => st.saveSync({ w: t }, join(dir, 'detached.safetensors'))).toThrow('saveSync: tensor "w": tensor data was detached (transferred or resized)');
    expect(existsSync(join(dir, 'detached.safetensors'))).toBe(false);
  });

  it('refuses to write an empty tensor with a dim no reader can take exactly, instead of a file that cannot be loaded', () => {
    const t = new Tensor(new Float32Array(0), [0, 2 ** 53]);
    expect(() => st.serialize({ a: t })).toThrow('serialize: tensor "a": shape [0, 9007199254740992] has a dim above 2^53 - 1, which the format\'s readers cannot represent exactly');
    expect(st.deserialize(st.serialize({ a: new Tensor(new Float32Array(0), [0, 2 ** 53 - 1]) })).tensors['a']!.shape).toEqual([0, 2 ** 53 - 1]);
  });

  it('deserialize checks its options', () => {
    const bytes = st.serialize({ a: tensor([1]) });
    expect(() => st.deserialize(bytes, (null as unknown) as { name?: string })).toThrow('deserialize: options must be an object, got null');
    expect(() => st.deserialize(bytes, { name: 3 as unknown as string })).toThrow('deserialize: options.name must be a string, got 3');
  });

  it('a missing file: every loader names the path', async () => {
    const p = join(dir, 'does', 'not', 'exist.safetensors');
    expect(() => st.loadSync(p)).toThrow(`loadSync: ${p}: cannot read: ENOENT`);
    expect(() => st.loadFileSync(p)).toThrow(`loadFileSync: ${p}: cannot read: ENOENT`);
    await expect(st.load(p)).rejects.toThrow(`load: ${p}: cannot read: ENOENT`);
    await expect(st.loadFile(p)).rejects.toThrow(`loadFile: ${p}: cannot read: ENOENT`);
    try {
      st.loadSync(p);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ENOENT');
    }
  });

  it('a directory is not a file; a truncated file on disk names the path', async () => {
    const d = join(dir, 'a-directory.safetensors');
    mkdirSync(d, { recursive: true });
    expect(() => st.loadSync(d)).toThrow(`loadSync: ${d}: not a regular file`);
    await expect(st.load(d)).rejects.toThrow(`load: ${d}: not a regular file`);
    const p = scratch();
    const full = st.serialize({ a: tensor([1, 2, 3]) });
    writeFileSync(p, full.subarray(0, full.length - 1));
    expect(() => st.loadSync(p)).toThrow(`loadSync: ${p}: tensor "a": data_offsets [0, 12] run past the end of the 11-byte data buffer`);
    await expect(st.loadFile(p)).rejects.toThrow(/data_offsets \[0, 12\] run past the end of the 11-byte data buffer/);
  });

  it('write validation: names, values and metadata are checked before any file is created', async () => {
    const p = scratch();
    const t = tensor([1]);
    const cases: [unknown, unknown, string | RegExp][] = [
      [{ '': t }, undefined, 'tensor names must be non-empty'],
      [{ __metadata__: t }, undefined, '"__metadata__" is reserved for metadata and cannot name a tensor'],
      [{ a: [1, 2] }, undefined, 'tensor "a": expected a Tensor, got an array'],
      [{ a: new Float32Array(1) }, undefined, 'tensor "a": expected a Tensor, got Float32Array'],
      [{ a: null }, undefined, 'tensor "a": expected a Tensor, got null'],
      [{ '\ud800x': t }, undefined, 'the name contains a lone UTF-16 surrogate'],
      [null, undefined, 'expected a Module or a record of name → Tensor, got null'],
      [{ a: t }, { metadata: { k: 1 } }, 'metadata value for "k" must be a string, got 1'],
      [{ a: t }, { metadata: ['x'] }, 'metadata must be a record of strings'],
      [{ a: t }, { metadata: { k: '\udc00' } }, 'metadata "k" contains a lone UTF-16 surrogate'],
      [{ stateDict: () => null }, undefined, 'stateDict() returned null, not a record of tensors'],
    ];
    for (const [obj, opts, msg] of cases) {
      expect(() => st.serialize(obj as st.Saveable, opts as st.SaveOptions)).toThrow(msg);
      expect(() => st.serialize(obj as st.Saveable, opts as st.SaveOptions)).toThrow(/^serialize: /);
      expect(() => st.saveSync(obj as st.Saveable, p, opts as st.SaveOptions)).toThrow(/^saveSync: /);
      await expect(st.save(obj as st.Saveable, p, opts as st.SaveOptions)).rejects.toThrow(/^save: /);
    }
    expect(readdirSync(join(p, '..'))).toEqual([]);
  });

  it('a failed save removes its temporary file and names the target (sync and async)', async () => {
    const target = scratch('is-a-dir');
    mkdirSync(target);
    const parent = join(target, '..');
    expect(() => st.saveSync({ a: tensor([1]) }, target)).toThrow(new RegExp(`^saveSync: ${target}: cannot write: `));
    await expect(st.save({ a: tensor([1]) }, target)).rejects.toThrow(new RegExp(`^save: ${target}: cannot write: `));
    expect(readdirSync(parent)).toEqual(['is-a-dir']);
    const missing = join(dir, 'no-such-folder', 'x.safetensors');
    expect(() => st.saveSync({ a: tensor([1]) }, missing)).toThrow(`saveSync: ${missing}: cannot write: ENOENT`);
  });

  it('saving over an existing file replaces it; through a symlink, the link stays and its file changes', () => {
    const p = scratch();
    st.saveSync({ a: tensor([1]) }, p);
    st.saveSync({ b: tensor([2, 3]) }, p);
    expect(Object.keys(st.loadSync(p))).toEqual(['b']);
    const link = join(p, '..', 'link.safetensors');
    symlinkSync(p, link);
    st.saveSync({ c: tensor([4]) }, link);
    expect(Object.keys(st.loadSync(p))).toEqual(['c']);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(p, '..')).sort()).toEqual(['f.safetensors', 'link.safetensors']);
  });
});

describe('fuzzing: any bytes either load or throw our Error, never crash or hang', () => {
  // Every dtype, a 0-d and a zero-size tensor, and metadata.
  const entries: [string, string, number[], number[]][] = [
    ['f32', 'F32', [2, 2], le('u32', [0x3f800000, 0xc0000000, 0x7fc00000, 0x80000000])],
    ['f16', 'F16', [3], le('u16', [0x3c00, 0x0001, 0x7c00])],
    ['bf16', 'BF16', [], le('u16', [0x3f80])],
    ['f64', 'F64', [1, 2], le('f64', [0.1, -2.5])],
    ['i64', 'I64', [2], le('i64', [7n, -3n])],
    ['i32', 'I32', [1], le('i32', [-9])],
    ['u8', 'U8', [2], [1, 255]],
    ['bool', 'BOOL', [2], [0, 1]],
    ['none', 'F32', [0, 4], []],
  ];
  const header: Record<string, unknown> = { __metadata__: { k: 'v' } };
  const data: number[] = [];
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [data.length, data.length + bytes.length] };
    data.push(...bytes);
  }
  const valid = rawFile(header, data, true);
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  const NAME = 'fuzz';

  function tryLoad(bytes: Uint8Array): void {
    let result: st.SafetensorsContents | undefined;
    try {
      result = st.deserialize(bytes, { name: NAME });
    } catch (err) {
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/^deserialize: fuzz: /);
      expect((err as Error).message.length).toBeLessThan(600);
      return;
    }
    for (const t of Object.values(result.tensors)) {
      expect(t).toBeInstanceOf(Tensor);
      expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    }
  }

  it('the base file is valid', () => {
    const c = st.deserialize(valid);
    expect(Object.keys(c.tensors).length).toBe(entries.length);
    expect(c.metadata).toEqual({ k: 'v' });
  });

  it('truncating at every length throws', () => {
    for (let len = 0; len < valid.length; len++) {
      expect(() => st.deserialize(valid.subarray(0, len), { name: NAME }), `length ${len}`).toThrow(/^deserialize: fuzz: /);
    }
  });

  it('random byte mutations (biased to the header)', () => {
    const pos = fc.oneof(fc.nat(headerEnd - 1), fc.nat(valid.length - 1), fc.nat(7));
    fc.assert(
      fc.property(fc.array(fc.tuple(pos, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        const bytes = valid.slice();
        for (const [p, b] of edits) bytes[p] = b;
        tryLoad(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('random headers with hostile numbers over random data', () => {
    const num = fc.oneof(
      fc.nat(16),
      fc.constantFrom(-1, 0.5, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 63, 1e308, -0),
      fc.integer(),
    );
    const dtype = fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'U64', 'I32', 'U32', 'I16', 'U16', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'X', 7);
    const entry = fc.oneof(
      { weight: 8, arbitrary: fc.record({ dtype, shape: fc.array(num, { maxLength: 4 }), data_offsets: fc.tuple(num, num) }) },
      { weight: 1, arbitrary: fc.anything() },
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 4 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.boolean(),
        (hdr, bytes, pad) => tryLoad(rawFile(hdr, bytes, pad)),
      ),
      { numRuns: 3000 },
    );
  });

  it('random consistent layouts load and round-trip their integer values', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(fc.nat(3), { maxLength: 3 }), fc.constantFrom('U8', 'I16', 'F32')), { maxLength: 5 }), (specs) => {
        const hdr: Record<string, unknown> = {};
        const bytes: number[] = [];
        specs.forEach(([shape, dtype], i) => {
          const n = shape.reduce((a, b) => a * b, 1);
          const size = dtype === 'U8' ? 1 : dtype === 'I16' ? 2 : 4;
          // Element k holds k (as float32 bits, or as a little-endian integer).
          const chunk =
            dtype === 'F32'
              ? le('u32', Array.from({ length: n }, (_, k) => new Uint32Array(new Float32Array([k]).buffer)[0]!))
              : Array.from({ length: n * size }, (_, b) => (b % size === 0 ? b / size : 0));
          hdr[`t${i}`] = { dtype, shape, data_offsets: [bytes.length, bytes.length + chunk.length] };
          bytes.push(...chunk);
        });
        const c = st.deserialize(rawFile(hdr, bytes));
        specs.forEach(([shape], i) => {
          const t = c.tensors[`t${i}`]!;
          expect(t.shape).toEqual(shape);
          expect(Array.from(t.data)).toEqual(Array.from({ length: t.size }, (_, k) => k));
        });
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Python interchange

/** Runs a python3 snippet; a missing python3 or numpy fails the test with a clear message. */
function python(script: string, args: string[], exe = 'python3'): string {
  const probe = spawnSync(exe, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `this test needs ${exe} with numpy (CI has both): ${probe.error ? probe.error.message : probe.stderr.trim()}`,
    );
  }
  const r = spawnSync(exe, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${exe} failed (status ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The first interpreter that has PyTorch: python3, else Debian's /usr/bin/python3. */
function findTorchPython(): string | null {
  const candidates = [process.env.TENSORGRAD_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const exe of candidates) {
    const r = spawnSync(exe, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return exe;
  }
  return null;
}
const torchPython = findTorchPython();

/** Writes safetensors with struct + json + numpy only, in its own key order; prints the expected float32 bits. */
const PY_WRITER = String.raw`
import json, struct, sys
import numpy as np
path, pad = sys.argv[1], sys.argv[2] == 'pad'
def half(bits): return np.array(bits, dtype=np.uint16).view(np.float16)
f32 = np.array([[0.0, -0.0, 1.5, -2.25], [3.4028234663852886e38, 1e-45, np.inf, np.nan]], dtype=np.float32)
f16 = half([0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x2e66]).reshape(3, 4)
f64 = np.array([np.pi, -1e300, 1e-300, 0.1, 16777217.0, 2.0 ** -149, -0.0, np.nan], dtype=np.float64).reshape(2, 2, 2)
src = np.array([1.0, -3.140625, 1e-38, 65504.0, 3.0e38, -0.0, 1 / 3], dtype=np.float32)
bf16 = (src.view(np.uint32) >> 16).astype(np.uint16)
i64 = np.array([0, -1, 2 ** 24, -(2 ** 40), 12345], dtype=np.int64)
u8 = np.array([0, 7, 255], dtype=np.uint8)
bl = np.array([True, False, True])
tensors = [
    ('z.f32', 'F32', f32, f32),
    ('m.f16', 'F16', f16, f16),
    ('a.f64', 'F64', f64, f64),
    ('scalar', 'F64', np.array(2.5, dtype=np.float64), np.array(2.5)),
    ('bf16', 'BF16', bf16, (bf16.astype(np.uint32) << 16).view(np.float32)),
    ('empty', 'F16', np.zeros((0, 3), dtype=np.float16), np.zeros((0, 3))),
    ('ids', 'I64', i64, i64),
    ('bytes', 'U8', u8, u8),
    ('mask', 'BOOL', bl, bl),
]
header, chunks, offset, expected = {'__metadata__': {'writer': 'numpy', 'pi': '3.14'}}, [], 0, {}
for name, dtype, arr, want in tensors:
    raw = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
    header[name] = {'dtype': dtype, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
    chunks.append(raw)
    offset += len(raw)
    with np.errstate(over='ignore', invalid='ignore'):
        w = np.asarray(want).astype(np.float32)
    expected[name] = {'shape': list(arr.shape), 'bits': w.view(np.uint32).ravel().tolist()}
text = json.dumps(header).encode('utf-8')
if pad:
    text += b' ' * ((8 - len(text) % 8) % 8)
with open(path, 'wb') as f:
    f.write(struct.pack('<Q', len(text)))
    f.write(text)
    f.write(b''.join(chunks))
print(json.dumps({'header_len': len(text), 'expected': expected}))
`;

/** Reads a safetensors file by the spec with struct + json + numpy; prints metadata, names in order and bits. */
const PY_READER = String.raw`
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n, = struct.unpack('<Q', raw[:8])
head = raw[8:8 + n]
assert (8 + n) % 8 == 0, 'data section not 8-aligned'
assert head.rstrip(b' ').endswith(b'}'), 'header padded with something other than spaces'
header = json.loads(head.decode('utf-8'))
meta = header.pop('__metadata__', {})
data = raw[8 + n:]
spans = sorted(tuple(v['data_offsets']) for v in header.values())
pos = 0
for b, e in spans:
    assert b == pos, 'hole or overlap'
    pos = e
assert pos == len(data), 'trailing bytes'
out = {}
for name, info in header.items():
    assert info['dtype'] == 'F32'
    b, e = info['data_offsets']
    arr = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])
    out[name] = {'shape': list(arr.shape), 'bits': arr.view('<u4').ravel().tolist()}
print(json.dumps({'metadata': meta, 'names': list(header.keys()), 'tensors': out}))
`;

interface PyWritten {
  header_len: number;
  expected: Record<string, { shape: number[]; bits: number[] }>;
}

describe('Python interchange', () => {
  for (const pad of ['pad', 'nopad']) {
    it(`a file written by Python (struct + json + numpy, ${pad === 'pad' ? 'padded' : 'unpadded, unaligned'} header) loads with the right values`, async () => {
      const path = scratch('py.safetensors');
      const out = JSON.parse(python(PY_WRITER, [path, pad])) as PyWritten;
      if (pad === 'nopad') expect(out.header_len % 8).not.toBe(0);
      const c = await st.loadFile(path);
      expect(c.metadata).toEqual({ writer: 'numpy', pi: '3.14' });
      expect(Object.keys(c.tensors).sort()).toEqual(Object.keys(out.expected).sort());
      for (const [name, want] of Object.entries(out.expected)) {
        expect(c.tensors[name]!.shape, name).toEqual(want.shape);
        expectSameBits(bitsOf(c.tensors[name]!), want.bits, name);
      }
      // NaN survives F32 bit-for-bit; F16 NaN widens exactly.
      expect(bitsOf(c.tensors['z.f32']!)[7]).toBe(0x7fc00000);
      expect(bitsOf(c.tensors['m.f16']!)[10]).toBe(0x7fc00000);
      expectSameDict(st.loadSync(path), c.tensors);
    });
  }

  it('a file we save parses in Python by the spec, with the same values, metadata and sorted layout', async () => {
    const dict = randomDict();
    const path = scratch();
    await st.save(dict, path, { metadata: META });
    const out = JSON.parse(python(PY_READER, [path])) as {
      metadata: Record<string, string>;
      names: string[];
      tensors: Record<string, { shape: number[]; bits: number[] }>;
    };
    expect(out.metadata).toEqual(META);
    expect(out.names).toEqual(Object.keys(dict).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const [name, t] of Object.entries(dict)) {
      expect(out.tensors[name]!.shape, name).toEqual(t.shape);
      expect(out.tensors[name]!.bits, name).toEqual(bitsOf(t));
    }
  });

  it.skipIf(torchPython === null)('PyTorch loads our Module state dict and computes the same outputs (needs python3-torch)', () => {
    const model = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    const g = new Generator(7);
    const xs = new Float32Array(5 * 4).map(() => g.nextFloat() * 4 - 2);
    const x = new Tensor(xs, [5, 4]);
    const weights = scratch('model.safetensors');
    const input = join(weights, '..', 'x.safetensors');
    st.saveSync(model, weights);
    st.saveSync({ x }, input);
    const script = String.raw`
import json, struct, sys
import numpy as np, torch
def read(path):
    raw = open(path, 'rb').read()
    n, = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop('__metadata__', None)
    data = raw[8 + n:]
    return {k: torch.from_numpy(np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], dtype='<f4').reshape(v['shape']).copy()) for k, v in header.items()}
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
model.load_state_dict(read(sys.argv[1]), strict=True)
with torch.no_grad():
    y = model(read(sys.argv[2])['x'])
print(json.dumps({'shape': list(y.shape), 'values': y.double().flatten().tolist()}))
`;
    const out = JSON.parse(python(script, [weights, input], torchPython!)) as { shape: number[]; values: number[] };
    const y = model.forward(x);
    expect(out.shape).toEqual(y.shape);
    out.values.forEach((v, i) => expect(Math.abs(y.data[i]! - v), `output ${i}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(v)));
  });
});

// ---------------------------------------------------------------------------------------------
// atomic saves under SIGKILL

/**
 * The child saves ~200 MB of zeros over `target`. In the hooked modes it blocks forever at a
 * chosen point of the save (after some tensor bytes are written, or just before the rename) and
 * says so, so the kill lands mid-save every time; in 'free' mode it is killed wherever it is.
 */
const CHILD = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const [target, mode, srcUrl, creationUrl] = process.argv.slice(2);
const say = fs.writeSync.bind(fs, 1);
const hang = () => { for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); };
if (mode === 'mid-write') {
  const real = fs.writeSync;
  let n = 0;
  fs.writeSync = function (fd, ...rest) {
    const r = real.call(fs, fd, ...rest);
    if (fd > 2 && ++n === 3) { say('mid-save\\n'); hang(); }
    return r;
  };
}
if (mode === 'before-rename') {
  fs.renameSync = function () { say('mid-save\\n'); hang(); };
}
syncBuiltinESMExports();
const { saveSync } = await import(srcUrl);
const { zeros } = await import(creationUrl);
const dict = { big: zeros([20_000_000]) };
for (let i = 0; i < 30; i++) dict['part.' + i] = zeros([1_000_000]);
say('saving\\n');
saveSync(dict, target);
say('saved\\n');
`;

function runChild(target: string, mode: string, killOn: string | null): Promise<{ stdout: string; killed: boolean; pid: number }> {
  const script = join(dir, 'child.mjs');
  if (!existsSync(script)) writeFileSync(script, CHILD);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      script,
      target,
      mode,
      pathToFileURL(join(ROOT, 'src/io/safetensors.ts')).href,
      pathToFileURL(join(ROOT, 'src/creation.ts')).href,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let killed = false;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    if (killOn !== null && !killed && stdout.includes(killOn)) {
      killed = true;
      // 'free' mode: kill a moment after the save starts, wherever the save happens to be.
      if (mode === 'free') setTimeout(() => child.kill('SIGKILL'), 20);
      else child.kill('SIGKILL');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('exit', (code, signal) => {
      if (killOn !== null && signal !== 'SIGKILL' && !stdout.includes('saved')) {
        rej(new Error(`child exited (code ${code}, signal ${signal}) before being killed; stdout: ${stdout}; stderr: ${stderr}`));
      } else if (killOn === null && code !== 0) {
        rej(new Error(`child failed (code ${code}); stderr: ${stderr}`));
      } else res({ stdout, killed: signal === 'SIGKILL', pid: child.pid! });
    });
  });
}

describe('atomic save', () => {
  const TMP = /^\.model\.safetensors\.(\d+)\.[0-9a-f]{12}\.tmp$/;
  const goodDict = { w: tensor([[1, 2], [3, 4]]), b: tensor([0.5, -0.5]) };

  for (const mode of ['mid-write', 'before-rename'] as const) {
    it(`SIGKILL ${mode === 'mid-write' ? 'while tensor bytes are being written' : 'after the fsync, before the rename'} leaves the old file intact`, async () => {
      const target = scratch('model.safetensors');
      st.saveSync(goodDict, target, { metadata: { v: '1' } });
      const before = readFileSync(target);
      const { killed, pid } = await runChild(target, mode, 'mid-save');
      expect(killed).toBe(true);
      expect(Buffer.compare(readFileSync(target), before)).toBe(0);
      const c = st.loadFileSync(target);
      expectSameDict(c.tensors, goodDict);
      expect(c.metadata).toEqual({ v: '1' });
      // The documented leftover: one temp file named for the killed process, partly or fully written.
      const leftovers = readdirSync(join(target, '..')).filter((f) => TMP.test(f));
      expect(leftovers.length).toBe(1);
      expect(TMP.exec(leftovers[0]!)![1]).toBe(String(pid));
      const size = statSync(join(target, '..', leftovers[0]!)).size;
      expect(size).toBeGreaterThan(0);
      if (mode === 'mid-write') expect(size).toBeLessThan(200_000_000);
      // The next save is not confused by it (and, by design, leaves it alone).
      st.saveSync({ z: tensor([9]) }, target);
      expect(Object.keys(st.loadSync(target))).toEqual(['z']);
      expect(readdirSync(join(target, '..')).filter((f) => TMP.test(f))).toEqual(leftovers);
    });
  }

  it('SIGKILL at an arbitrary moment: the target is the old file or the complete new one', async () => {
    const target = scratch('model.safetensors');
    st.saveSync(goodDict, target);
    const before = readFileSync(target);
    await runChild(target, 'free', 'saving');
    const after = readFileSync(target);
    if (Buffer.compare(after, before) !== 0) {
      const loaded = st.loadSync(target);
      expect(Object.keys(loaded).length).toBe(31);
      expect(loaded.big!.size).toBe(20_000_000);
    }
  });

  it('an unhindered child save of ~200 MB completes and loads (reads and writes span several 64 MiB chunks)', async () => {
    const target = scratch('model.safetensors');
    st.saveSync(goodDict, target);
    const { stdout } = await runChild(target, 'none', null);
    expect(stdout).toContain('saved');
    const loaded = await st.load(target);
    expect(Object.keys(loaded).length).toBe(31);
    expect(loaded.big!.size).toBe(20_000_000);
    expect(loaded.big!.data.every((v) => v === 0)).toBe(true);
    expect(readdirSync(join(target, '..'))).toEqual(['model.safetensors']);
  });
});
