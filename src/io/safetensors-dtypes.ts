/**
 * safetensors dtypes: how each one's raw little-endian bytes become float32 (F16/BF16 exactly,
 * F64 rounded to nearest, integers and BOOL only when every value is exact).
 */

import { allocFloat32 } from '../shape.js';

/** Tensor bytes can be copied as they are only where the host order is the file's order. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;


/**
 * How to turn one dtype's raw little-endian bytes into float32. `raw` always owns a fresh
 * ArrayBuffer of exactly n × size bytes at offset 0, so decoders may reinterpret it in place.
 */
export interface Dtype {
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

export function view(raw: Uint8Array): DataView {
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
      const out = allocFloat32('safetensors', n);
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
      const out = allocFloat32('safetensors', n);
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
      const out = allocFloat32('safetensors', n);
      for (let i = 0; i < n; i++) out[i] = read(dv, size * i);
      return out;
    },
  };
}

/** Keyed by the header's dtype string; a Map so names like "toString" find nothing. */
export const DTYPES = new Map<string, Dtype>([
  [
    'F32',
    {
      size: 4,
      decode(raw, n) {
        if (HOST_IS_LITTLE_ENDIAN) return new Float32Array(raw.buffer, raw.byteOffset, n);
        const out = allocFloat32('safetensors', n);
        const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
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
        const out = allocFloat32('safetensors', n);
        const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
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
        const out = allocFloat32('safetensors', n);
        const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
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
        const out = allocFloat32('safetensors', n);
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
        const out = allocFloat32('safetensors', n);
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

export const READABLE_DTYPES = [...DTYPES.keys()].join(', ');
