import { constants as bufferConstants } from 'node:buffer';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib, { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type IdxDtype, loadIdxFolder, loadIdxPair, loadIdxTensor, readIdx } from '../src/data/idx.js';

const TYPE_BYTE: Record<IdxDtype, number> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };
const SIZE: Record<IdxDtype, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

/** An IDX file written independently of the reader: header, then big-endian values. */
function writeIdx(dtype: IdxDtype, shape: number[], values: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + values.length * SIZE[dtype]);
  const v = new DataView(out.buffer);
  out[2] = TYPE_BYTE[dtype];
  out[3] = shape.length;
  shape.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < values.length; i++) {
    const o = header + i * SIZE[dtype];
    const x = values[i]!;
    if (dtype === 'uint8') v.setUint8(o, x);
    else if (dtype === 'int8') v.setInt8(o, x);
    else if (dtype === 'int16') v.setInt16(o, x, false);
    else if (dtype === 'int32') v.setInt32(o, x, false);
    else if (dtype === 'float32') v.setFloat32(o, x, false);
    else v.setFloat64(o, x, false);
  }
  return out;
}

/** Just a header, for files whose data is deliberately wrong. */
function header(typeByte: number, dims: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length);
  out[2] = typeByte;
  out[3] = dims.length;
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'tensorgrad-idx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const path = join(tmp, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

const SAMPLES: Record<IdxDtype, number[]> = {
  uint8: [0, 1, 127, 128, 254, 255],
  int8: [-128, -1, 0, 1, 100, 127],
  int16: [-32768, -2, 0, 258, 4660, 32767],
  int32: [-2147483648, -65536, 0, 16909060, 305419896, 2147483647],
  float32: [1.5, -2.25, Math.fround(0.1), Math.fround(3.4e38), -0, Math.fround(1e-40)],
  float64: [0.1, -1e300, 5e-324, Math.PI, -0, 12345.678],
};

describe('readIdx', () => {
  for (const dtype of Object.keys(SAMPLES) as IdxDtype[]) {
    for (const gz of [false, true]) {
      it(`round-trips ${dtype} ${gz ? 'gzipped' : 'raw'}, from bytes and from a file`, () => {
        const raw = writeIdx(dtype, [2, 3], SAMPLES[dtype]);
        const bytes = gz ? new Uint8Array(gzipSync(raw)) : raw;
        const path = file(`rt-${dtype}${gz ? '.gz' : ''}`, bytes);
        for (const got of [readIdx(bytes), readIdx(path)]) {
          expect(got.dtype).toBe(dtype);
          expect(got.shape).toEqual([2, 3]);
          expect(got.data.constructor.name).toBe(
            { uint8: 'Uint8Array', int8: 'Int8Array', int16: 'Int16Array', int32: 'Int32Array', float32: 'Float32Array', float64: 'Float64Array' }[dtype],
          );
          expect(Array.from(got.data)).toEqual(SAMPLES[dtype]);
        }
      });
    }
  }

  it('returns data that does not alias the input bytes', () => {
    const raw = writeIdx('uint8', [3], [1, 2, 3]);
    const got = readIdx(raw);
    raw[raw.length - 1] = 99;
    expect(Array.from(got.data)).toEqual([1, 2, 3]);
    expect(got.data.byteOffset).toBe(0);
    expect(got.data.buffer.byteLength).toBe(3);
  });

  it('detects gzip by its magic, not by the file name', () => {
    const raw = writeIdx('int16', [2], [-5, 7]);
    expect(Array.from(readIdx(file('gz-named-raw.gz', raw)).data)).toEqual([-5, 7]);
    expect(Array.from(readIdx(file('raw-named-gz.idx', gzipSync(raw))).data)).toEqual([-5, 7]);
  });

  it('accepts zero-sized dims', () => {
    const got = readIdx(writeIdx('float32', [0, 28, 28], []));
    expect(got.shape).toEqual([0, 28, 28]);
    expect(got.data.length).toBe(0);
  });
});

describe('loadIdxTensor', () => {
  it('scales uint8 to [0, 1] by default and keeps 0..255 with scale: false', () => {
    const raw = writeIdx('uint8', [1, 2, 2], [0, 51, 128, 255]);
    const t = loadIdxTensor(raw);
    expect(t.shape).toEqual([1, 2, 2]);
    expect(Array.from(t.data)).toEqual([0, 51, 128, 255].map((v) => Math.fround(v / 255)));
    expect(Array.from(loadIdxTensor(raw, { scale: false }).data)).toEqual([0, 51, 128, 255]);
  });

  it('converts the other dtypes unscaled (float64 and large int32 round to float32)', () => {
    for (const dtype of ['int8', 'int16', 'int32', 'float32', 'float64'] as const) {
      const t = loadIdxTensor(gzipSync(writeIdx(dtype, [3, 2], SAMPLES[dtype])));
      expect(t.shape).toEqual([3, 2]);
      expect(Array.from(t.data)).toEqual(SAMPLES[dtype].map(Math.fround));
    }
  });

  it('names the calling function and the given name in errors', () => {
    expect(() => loadIdxTensor(new Uint8Array([0, 0, 8]), { name: 'x.idx' })).toThrow(
      'loadIdxTensor: x.idx: too short for the 4-byte IDX magic: file has 3 bytes',
    );
  });
});

/** 3-D uint8 images with pixel values p + 10 * item, and labels. */
function imagesAndLabels(n: number, rows: number, cols: number): { images: Uint8Array; labels: Uint8Array; pixels: number[]; ys: number[] } {
  const pixels: number[] = [];
  for (let i = 0; i < n; i++) for (let p = 0; p < rows * cols; p++) pixels.push((p + 10 * i) % 256);
  const ys = Array.from({ length: n }, (_, i) => (i * 7) % 10);
  return { images: writeIdx('uint8', [n, rows, cols], pixels), labels: writeIdx('uint8', [n], ys), pixels, ys };
}

describe('loadIdxPair', () => {
  const { images, labels, pixels, ys } = imagesAndLabels(5, 3, 2);
  const imagesPath = file('pair/images.idx.gz', gzipSync(images));
  const labelsPath = file('pair/labels.idx', labels);

  it('loads flattened x in [0, 1] and integer y', () => {
    const { x, y } = loadIdxPair(imagesPath, labelsPath);
    expect(x.shape).toEqual([5, 6]);
    expect(Array.from(x.data)).toEqual(pixels.map((v) => Math.fround(v / 255)));
    expect(y.shape).toEqual([5]);
    expect(Array.from(y.data)).toEqual(ys);
  });

  it('keeps the item dims with flatten: false', () => {
    const { x } = loadIdxPair(imagesPath, labelsPath, { flatten: false });
    expect(x.shape).toEqual([5, 3, 2]);
  });

  it('rejects a count mismatch, naming both files', () => {
    const fewer = file('pair/labels4.idx', writeIdx('uint8', [4], [0, 1, 2, 3]));
    expect(() => loadIdxPair(imagesPath, fewer)).toThrow(`loadIdxPair: ${imagesPath}: holds 5 items but the labels file ${fewer} holds 4 labels`);
  });

  it('rejects labels that are not 1-D uint8', () => {
    const int32 = file('pair/labels-int32.idx', writeIdx('int32', [5], [0, 1, 2, 3, -4]));
    expect(() => loadIdxPair(imagesPath, int32)).toThrow(`loadIdxPair: ${int32}: a labels file must be a 1-D uint8 IDX array, this one is int32 [5]`);
    const twoD = file('pair/labels-2d.idx', writeIdx('uint8', [5, 1], [0, 1, 2, 3, 4]));
    expect(() => loadIdxPair(imagesPath, twoD)).toThrow(/labels file must be a 1-D uint8 IDX array, this one is uint8 \[5, 1\]/);
  });

  it('rejects 1-D images', () => {
    const flat = file('pair/images-1d.idx', writeIdx('uint8', [5], [1, 2, 3, 4, 5]));
    expect(() => loadIdxPair(flat, labelsPath)).toThrow(/needs at least 2 dims/);
  });
});

describe('loadIdxFolder', () => {
  function writeFolder(dir: string, names: string[], gz: boolean): void {
    const train = imagesAndLabels(6, 2, 2);
    const test = imagesAndLabels(3, 2, 2);
    const blobs = [train.images, train.labels, test.images, test.labels];
    names.forEach((n, i) => file(join(dir, n), gz ? gzipSync(blobs[i]!) : blobs[i]!));
  }

  it('reads the gzipped dash layout', () => {
    writeFolder('mnist-gz', ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'], true);
    const d = loadIdxFolder(join(tmp, 'mnist-gz'));
    expect(d.train.x.shape).toEqual([6, 4]);
    expect(d.train.y.shape).toEqual([6]);
    expect(d.test.x.shape).toEqual([3, 4]);
    expect(Array.from(d.test.y.data)).toEqual([0, 7, 4]);
  });

  it('reads the raw dot layout some mirrors use, unflattened', () => {
    writeFolder('mnist-dot', ['train-images.idx3-ubyte', 'train-labels.idx1-ubyte', 't10k-images.idx3-ubyte', 't10k-labels.idx1-ubyte'], false);
    const d = loadIdxFolder(join(tmp, 'mnist-dot'), { flatten: false });
    expect(d.train.x.shape).toEqual([6, 2, 2]);
    expect(d.test.x.shape).toEqual([3, 2, 2]);
  });

  it('lists every missing file and the names it looked for', () => {
    writeFolder('mnist-partial', ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'], false);
    const dir = join(tmp, 'mnist-partial');
    expect(() => loadIdxFolder(dir)).toThrow(
      `loadIdxFolder: ${dir}: missing t10k-images (looked for t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz, t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz); ` +
        't10k-labels (looked for t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte.gz, t10k-labels.idx1-ubyte, t10k-labels.idx1-ubyte.gz)',
    );
  });

  it('rejects a path that is not a folder', () => {
    expect(() => loadIdxFolder(join(tmp, 'no-such-dir'))).toThrow(/^loadIdxFolder: .*no-such-dir: cannot open the folder: ENOENT/);
    const f = file('plain-file', new Uint8Array(1));
    expect(() => loadIdxFolder(f)).toThrow(`loadIdxFolder: ${f}: not a folder`);
  });

  const fashion = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(fashion))('loads Fashion-MNIST from the Debian package (needs dataset-fashion-mnist)', () => {
    const d = loadIdxFolder(fashion);
    expect(d.train.x.shape).toEqual([60000, 784]);
    expect(d.train.y.shape).toEqual([60000]);
    expect(d.test.x.shape).toEqual([10000, 784]);
    expect(d.test.y.shape).toEqual([10000]);
    for (const split of [d.train, d.test]) {
      const counts = new Array<number>(10).fill(0);
      for (const v of split.y.data) {
        expect(Number.isInteger(v) && v >= 0 && v <= 9).toBe(true);
        counts[v]!++;
      }
      // Fashion-MNIST is balanced: 6000 / 1000 of each class.
      expect(counts).toEqual(new Array<number>(10).fill(split.y.size / 10));
      let min = Infinity;
      let max = -Infinity;
      for (const v of split.x.data) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect([min, max]).toEqual([0, 1]);
    }
  });
});

describe('malformed IDX files', () => {
  const cases: [string, Uint8Array, string | RegExp][] = [
    ['empty', new Uint8Array(0), 'readIdx: bad: too short for the 4-byte IDX magic: file has 0 bytes'],
    ['3 bytes', new Uint8Array([0, 0, 8]), 'readIdx: bad: too short for the 4-byte IDX magic: file has 3 bytes'],
    ['nonzero magic', concat(new Uint8Array([0x50, 0x4b]), writeIdx('uint8', [1], [1]).subarray(2)), 'readIdx: bad: not an IDX file: magic starts 0x50 0x4b, expected two zero bytes'],
    ['unknown type', concat(header(0x0a, [1]), new Uint8Array(1)), /^readIdx: bad: unknown IDX type byte 0x0a \(known: 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64\)$/],
    ['zero dims', header(0x08, []), 'readIdx: bad: header declares 0 dims; expected 1 to 16'],
    ['17 dims', header(0x08, new Array<number>(17).fill(1)), 'readIdx: bad: header declares 17 dims; expected 1 to 16'],
    ['truncated header', header(0x08, [2, 3]).subarray(0, 9), 'readIdx: bad: truncated header: 2 dims need a 12-byte header, file has 9 bytes'],
    ['truncated data', concat(header(0x08, [2, 3]), new Uint8Array(5)), 'readIdx: bad: truncated: header declares 2×3 uint8 = 6 bytes of data, file has 5 after the 12-byte header'],
    ['truncated int32 data', concat(header(0x0c, [60000, 28, 28]), new Uint8Array(1234)), 'readIdx: bad: truncated: header declares 60000×28×28 int32 = 188160000 bytes of data, file has 1234 after the 16-byte header'],
    ['trailing bytes', concat(writeIdx('int16', [2], [1, 2]), new Uint8Array(3)), 'readIdx: bad: 3 trailing bytes: header declares 2 int16 = 4 bytes of data, file has 7 after the 8-byte header (a different file?)'],
    ['2^48 elements', header(0x08, [65536, 65536, 65536]), 'readIdx: bad: header declares 65536×65536×65536 elements, more than the limit of 2^31 - 1'],
    ['2^32 elements via 4 dims', header(0x08, [4294967295, 4294967295, 4294967295, 2]), /more than the limit of 2\^31 - 1/],
    // Node 20's Buffers stop at 4 GiB, so the header alone is refused; Node 22+ allows 2^53 - 1
    // bytes, so the same file is refused for holding none of the 16 GB it declares.
    [
      '16 GB of float64',
      header(0x0e, [2 ** 31 - 1]),
      bufferConstants.MAX_LENGTH <= 17179869176 + 8
        ? 'readIdx: bad: header declares 2147483647 float64 = 17179869176 bytes, more than a Buffer can hold'
        : 'readIdx: bad: truncated: header declares 2147483647 float64 = 17179869176 bytes of data',
    ],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => readIdx(bytes, { name: 'bad' })).toThrow(message);
    });
  }

  it('names the file path when there is no name option', () => {
    const path = file('short.idx', new Uint8Array([0, 0]));
    expect(() => readIdx(path)).toThrow(`readIdx: ${path}: too short for the 4-byte IDX magic: file has 2 bytes`);
    expect(() => readIdx(join(tmp, 'absent.idx'))).toThrow(/^readIdx: .*absent\.idx: cannot read the file: ENOENT/);
  });

  it('rejects a truncated gzip stream', () => {
    const gz = gzipSync(writeIdx('uint8', [100, 10], new Array<number>(1000).fill(0).map((_, i) => (i * 37) % 251)));
    expect(() => readIdx(gz.subarray(0, gz.length - 6), { name: 'cut.gz' })).toThrow(
      /^readIdx: cut\.gz: truncated gzip stream \(it ends before its trailer\): header declares 100×10 uint8 = 1000 bytes of data/,
    );
    expect(() => readIdx(gz.subarray(0, Math.floor(gz.length / 2)), { name: 'half.gz' })).toThrow(/^readIdx: half\.gz: truncated gzip stream/);
  });

  it('rejects a gzip stream cut inside the gzip header', () => {
    expect(() => readIdx(new Uint8Array([0x1f, 0x8b, 8, 0]), { name: 'g' })).toThrow('readIdx: g: too short for the 4-byte IDX magic: decompressed data has 0 bytes');
  });

  it('rejects a gzip stream whose content is shorter or longer than the header declares', () => {
    const short = gzipSync(concat(header(0x08, [2, 3]), new Uint8Array(5)));
    expect(() => readIdx(short, { name: 's.gz' })).toThrow('readIdx: s.gz: truncated: header declares 2×3 uint8 = 6 bytes of data, decompressed data has 5 after the 12-byte header');
    const long = gzipSync(concat(header(0x08, [2, 3]), new Uint8Array(7)));
    expect(() => readIdx(long, { name: 'l.gz' })).toThrow(
      'readIdx: l.gz: 1 trailing bytes: header declares 2×3 uint8 = 6 bytes of data, decompressed data has 7 after the 12-byte header (a different file?)',
    );
    const longer = gzipSync(concat(header(0x08, [2, 3]), new Uint8Array(1000)));
    expect(() => readIdx(longer, { name: 'l.gz' })).toThrow(
      'readIdx: l.gz: header declares 2×3 uint8 = 6 bytes of data (18 bytes with the header), but the gzip stream inflates to more (trailing data, or a gzip bomb)',
    );
  });

  /** Runs `f`, recording the output bound of every gunzipSync call it makes. */
  function inflateBounds(f: () => void): (number | undefined)[] {
    const spy = vi.spyOn(zlib, 'gunzipSync');
    try {
      f();
      return spy.mock.calls.map(([, opts]) => opts?.maxOutputLength);
    } finally {
      spy.mockRestore();
    }
  }

  it('rejects a gzip bomb (50 MB of zeros behind a header declaring 10 bytes) without inflating it', () => {
    const bomb = gzipSync(concat(header(0x08, [10]), new Uint8Array(50 * 1024 * 1024)), { level: 9 });
    expect(bomb.length).toBeLessThan(100_000);
    const bounds = inflateBounds(() =>
      expect(() => readIdx(bomb, { name: 'bomb.gz' })).toThrow(
        'readIdx: bomb.gz: header declares 10 uint8 = 10 bytes of data (18 bytes with the header), but the gzip stream inflates to more (trailing data, or a gzip bomb)',
      ),
    );
    // The header probe is capped at 64 KiB, the full inflate at the declared size plus one.
    expect(bounds.length).toBeGreaterThan(1);
    expect(bounds.slice(0, -1).every((b) => b !== undefined && b <= 65536)).toBe(true);
    expect(bounds.at(-1)).toBe(19);
  });

  it('finds the header behind a long gzip comment field and a highly compressed body, with every inflate bounded', () => {
    // Doubling prefixes jump from all-comment to ~1000 deflate bytes (megabytes of output): the
    // probe has to back off to a prefix whose output fits its cap.
    const n = 5 * 1024 * 1024;
    const content = concat(header(0x08, [n]), new Uint8Array(n));
    content[content.length - 1] = 7;
    const comment = new Uint8Array(1001).fill(0x61);
    comment[1000] = 0;
    const trailer = new Uint8Array(8);
    new DataView(trailer.buffer).setUint32(0, zlib.crc32(content), true);
    new DataView(trailer.buffer).setUint32(4, content.length, true);
    const FCOMMENT = 0x10;
    const gz = concat(new Uint8Array([0x1f, 0x8b, 8, FCOMMENT, 0, 0, 0, 0, 0, 255]), comment, zlib.deflateRawSync(content, { level: 9 }), trailer);
    let got: ReturnType<typeof readIdx> | undefined;
    const bounds = inflateBounds(() => {
      got = readIdx(gz);
    });
    expect(got!.shape).toEqual([n]);
    expect(got!.data[n - 1]).toBe(7);
    expect(bounds.slice(0, -1).every((b) => b !== undefined && b <= 65536)).toBe(true);
    expect(bounds.at(-1)).toBe(8 + n + 1);
  });

  it('rejects a gzip stream of only zeros without finding a header in it', () => {
    // No IDX header at all: the header probe must stop at a bounded output and report the magic.
    const zeros = gzipSync(new Uint8Array(50 * 1024 * 1024), { level: 9 });
    expect(() => readIdx(zeros, { name: 'z.gz' })).toThrow(/^readIdx: z\.gz: unknown IDX type byte 0x00 /);
  });

  it('does not allocate what a gzipped header claims before the stream delivers it', () => {
    // 1e9 declared bytes (within the limits) behind 10 real ones: a truncation error, not a 1 GB buffer.
    const gz = gzipSync(concat(header(0x08, [1_000_000_000]), new Uint8Array(10)));
    expect(() => readIdx(gz, { name: 'claims.gz' })).toThrow(
      'readIdx: claims.gz: truncated: header declares 1000000000 uint8 = 1000000000 bytes of data, decompressed data has 10 after the 8-byte header',
    );
  });

  it('rejects corrupt gzip data, naming the file', () => {
    const gz = new Uint8Array(gzipSync(writeIdx('uint8', [4], [1, 2, 3, 4])));
    const crc = gz.slice();
    crc[crc.length - 8]! ^= 0xff; // the CRC32 in the trailer
    expect(() => readIdx(crc, { name: 'crc.gz' })).toThrow(/^readIdx: crc\.gz: corrupt gzip data \(zlib: incorrect data check\)$/);
    const junk = concat(gz.subarray(0, 10), new Uint8Array(20).fill(0xff));
    expect(() => readIdx(junk, { name: 'junk.gz' })).toThrow(/^readIdx: junk\.gz: corrupt gzip data \(zlib: /);
  });

  it('rejects a source that is neither a path nor bytes', () => {
    expect(() => readIdx(42 as unknown as string)).toThrow('readIdx: source must be a file path or a Uint8Array, got 42');
  });

  it('checks options and paths before reading, naming the function', () => {
    const bytes = writeIdx('uint8', [2], [1, 2]);
    expect(() => readIdx(bytes, null as unknown as object)).toThrow('readIdx: options must be an object, got null');
    expect(() => readIdx(bytes, { name: 5 as unknown as string })).toThrow('readIdx: name must be a string, got 5');
    // A truthy string used to mean scale: true; a typo'd key was ignored.
    expect(() => loadIdxTensor(bytes, { scale: 'no' as unknown as boolean })).toThrow("loadIdxTensor: scale must be a boolean, got string 'no'");
    expect(() => loadIdxTensor(bytes, { scaled: false } as object)).toThrow("loadIdxTensor: unknown option 'scaled' (expected scale, name)");
    expect(() => loadIdxPair('a', 7 as unknown as string)).toThrow('loadIdxPair: labelsPath must be a path (a string), got 7');
    expect(() => loadIdxFolder(null as unknown as string)).toThrow('loadIdxFolder: dir must be a path (a string), got null');
    expect(() => loadIdxFolder('.', { flatten: 1 as unknown as boolean })).toThrow('loadIdxFolder: flatten must be a boolean, got 1');
  });
});

describe('fuzz', () => {
  const valid = writeIdx('int16', [3, 2, 2], [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12]);
  const validGz = new Uint8Array(gzipSync(valid));
  const mutation = (base: Uint8Array) =>
    fc.record({
      edits: fc.array(fc.record({ at: fc.nat({ max: base.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
      cut: fc.option(fc.nat({ max: base.length }), { nil: undefined }),
      extra: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: undefined }),
    });

  for (const [what, base] of [
    ['raw', valid],
    ['gzipped', validGz],
  ] as const) {
    it(`random mutations of a ${what} file parse consistently or throw an Error`, () => {
      let parsed = 0;
      let rejected = 0;
      fc.assert(
        fc.property(mutation(base), ({ edits, cut, extra }) => {
          let bytes: Uint8Array = base.slice();
          for (const { at, byte } of edits) bytes[at] = byte;
          if (cut !== undefined) bytes = bytes.subarray(0, cut);
          if (extra !== undefined) bytes = concat(bytes, extra);
          let got;
          try {
            got = readIdx(bytes, { name: 'fuzz' });
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect((e as Error).message).toMatch(/^readIdx: fuzz: /);
            rejected++;
            return;
          }
          parsed++;
          expect(got.data.length).toBe(got.shape.reduce((a, b) => a * b, 1));
        }),
        { numRuns: 400 },
      );
      // Both outcomes must occur, or the generator is not exercising the parser.
      expect(parsed).toBeGreaterThan(0);
      expect(rejected).toBeGreaterThan(0);
    });
  }
});
