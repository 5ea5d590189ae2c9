import { afterEach, describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { getBackend, setBackend } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { loadAddon, nativeBackend } from '../src/backend/native.js';
import { givePooled, pooledByteCount, takePooled } from '../src/pool.js';
import { ALIGNED_ELEMENTS, allocFloat32 } from '../src/shape.js';
import { describeBackends } from './helpers/backends.js';

// With the native backend, fresh arrays of ALIGNED_ELEMENTS or more start on a 64-byte boundary
// (src/shape.ts): the AVX-512 dot products take only such weights. The TypeScript backend keeps
// plain arrays.

const addon = loadAddon();

/** Where `a` starts, modulo 64, using the addon to learn its buffer's address. */
function startMod64(a: Float32Array): number {
  const pad = addon!.alignPad!(a.buffer as ArrayBuffer);
  return (((a.byteOffset - pad) % 64) + 64) % 64;
}

afterEach(() => tg.emptyCache());

describeBackends('fresh tensor arrays', (backend) => {
  const native = () => backend().name === 'native' && addon?.alignPad !== undefined;

  it('start on a 64-byte boundary from ALIGNED_ELEMENTS up with the native backend, in a buffer of their own', () => {
    tg.manualSeed(1);
    const model = tg.mlp({ inputs: 33, hidden: [40], outputs: 10 });
    const x = tg.randn([17, 33]);
    const w = tg.randn([33, 19]);
    const outs = [tg.zeros([ALIGNED_ELEMENTS]), x, x.matmul(w), model.forward(x), ...model.parameters()];
    for (const t of outs) {
      const a = tg.Tensor._rawOf(t)!;
      expect(a.length).toBe(t.size);
      if (native() && a.length >= ALIGNED_ELEMENTS) {
        expect(startMod64(a), `${t.shape}`).toBe(0);
        expect(a.buffer.byteLength - a.byteLength).toBeLessThanOrEqual(60);
      } else {
        expect(a.byteOffset).toBe(0);
        expect(a.buffer.byteLength).toBe(a.byteLength);
      }
    }
    // The values are the arrays' own: zeros are zeros, and the product is x·w computed here.
    expect(Array.from(tg.Tensor._rawOf(outs[0]!)!).every((v) => v === 0)).toBe(true);
    const xs = x.toArray() as number[][];
    const ws = w.toArray() as number[][];
    const got = outs[2]!.toArray() as number[][];
    for (let i = 0; i < 17; i++)
      for (let j = 0; j < 19; j++) {
        let s = 0;
        for (let p = 0; p < 33; p++) s += xs[i]![p]! * ws[p]![j]!;
        expect(got[i]![j]!).toBeCloseTo(s, 4);
      }
  });

  it('lays out copies the same way: tensor() of a typed array, clone(), the async path and optimizer state dicts', async () => {
    const src = new Float64Array(ALIGNED_ELEMENTS + 5).map((_, i) => i / 7);
    const t = tg.tensor(src, [src.length]);
    const c = t.clone();
    const model = tg.mlp({ inputs: 16, hidden: [32], outputs: 10 });
    const opt = new tg.Adam(model.parameters());
    const x = tg.randn([4, 16]);
    tg.crossEntropy(model.forward(x), tg.tensor([1, 2, 3, 4])).backward();
    opt.step();
    const moments = Object.values(opt.stateDict().state).flatMap((st) => Object.values(st).filter((v): v is Float32Array => v instanceof Float32Array));
    const big = moments.filter((m) => m.length >= ALIGNED_ELEMENTS);
    expect(big.length).toBeGreaterThan(0);
    for (const a of [tg.Tensor._rawOf(t)!, tg.Tensor._rawOf(c)!, ...big]) {
      if (native()) expect(startMod64(a)).toBe(0);
      else expect(a.byteOffset).toBe(0);
    }
    expect(Array.from(tg.Tensor._rawOf(c)!)).toEqual(Array.from(Float32Array.from(src)));
    expect(Array.from(tg.Tensor._rawOf(t)!)).toEqual(Array.from(Float32Array.from(src)));
    // The async path predicts from its own copies of the weights: the same numbers as predict().
    expect(Array.from((await model.predictAsync(x)).data)).toEqual(Array.from(tg.predict(model, x).data));
  });

  it('recycles an aligned array handed back, and still refuses views of buffers it did not make', () => {
    const n = ALIGNED_ELEMENTS + 3;
    const a = allocFloat32('test', n);
    givePooled(a);
    expect(pooledByteCount()).toBe(n * 4);
    expect(takePooled(n)).toBe(a);
    // Same shape of buffer (60 bytes over, offset 16), but user-made: another view may share it.
    const foreign = new Float32Array(new ArrayBuffer(4 * n + 60), 16, n);
    givePooled(foreign);
    // A piece of the library's own array, and (native: an aligned array is not its whole buffer)
    // a second view of its range: not the array it made, so they may alias one still in use.
    givePooled(a.subarray(1));
    if (native()) givePooled(new Float32Array(a.buffer, a.byteOffset, a.length));
    expect(pooledByteCount()).toBe(0);
    expect(takePooled(n)).toBeUndefined();
    expect(takePooled(n - 1)).toBeUndefined();
  });

  it('a disposed aligned result comes back, aligned, for the next result of its size', () => {
    const x = tg.randn([20, 30]);
    const w = tg.randn([30, 40]);
    const first = x.matmul(w);
    const raw = tg.Tensor._rawOf(first)!;
    const expected = first.toArray();
    first.dispose();
    const second = x.matmul(w);
    expect(second.toArray()).toEqual(expected);
    expect(tg.Tensor._rawOf(second) === raw).toBe(true);
    if (native()) expect(startMod64(tg.Tensor._rawOf(second)!)).toBe(0);
  });
});

describe.runIf(addon?.alignPad !== undefined)('native alignPad', () => {
  const a = addon!;

  it('rejects anything but an ArrayBuffer with a JS error', () => {
    expect(() => a.alignPad!(new Float32Array(8) as unknown as ArrayBuffer)).toThrow(/alignPad: buffer must be an ArrayBuffer/);
    expect(() => (a.alignPad as unknown as () => number)()).toThrow(/alignPad/);
  });

  it('gives the bytes to the first 64-byte boundary: a view there is aligned for every buffer', () => {
    for (let i = 0; i < 50; i++) {
      const b = new ArrayBuffer(1024 + 4 * i);
      const pad = a.alignPad!(b);
      expect(pad).toBeGreaterThanOrEqual(0);
      expect(pad).toBeLessThan(64);
      expect(pad % 4).toBe(0);
      // One float later is 4 bytes past the boundary: the pad of a view's own start moves with it.
      expect(startMod64(new Float32Array(b, pad, 16))).toBe(0);
      expect(startMod64(new Float32Array(b, pad + 4, 16))).toBe(4);
    }
  });

  it('setBackend aligns fresh arrays for the native backend and not for the TypeScript one', () => {
    const before = getBackend();
    try {
      setBackend(jsBackend);
      const plain = allocFloat32('test', ALIGNED_ELEMENTS * 2);
      expect(plain.byteOffset).toBe(0);
      expect(plain.buffer.byteLength).toBe(plain.byteLength);
      setBackend(nativeBackend(a));
      expect(startMod64(allocFloat32('test', ALIGNED_ELEMENTS * 2))).toBe(0);
    } finally {
      setBackend(before);
    }
  });
});
