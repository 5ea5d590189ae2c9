// The benchmark MLP as an ONNX model, written as protobuf bytes by hand: the handful of onnx.proto
// messages it needs (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto) do not justify a protobuf dependency. Field numbers are onnx.proto's.
// Graph: Gemm(transB=1) + Relu per hidden layer, a final Gemm; weights are initializers stored
// [out, in] as tensorgrad (and PyTorch) keep them; the batch dim is symbolic ("N").

const enc = new TextEncoder();

function varint(v: number): number[] {
  const out: number[] = [];
  // Field values here are small non-negative integers (dims, enums, versions): plain base-128.
  let x = v;
  while (x > 0x7f) {
    out.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
  return out;
}

type Bytes = number[] | Uint8Array;

class Msg {
  private readonly chunks: Uint8Array[] = [];
  int(field: number, v: number): this {
    this.chunks.push(Uint8Array.from([...varint(field << 3), ...varint(v)]));
    return this;
  }
  bytes(field: number, b: Bytes): this {
    const data = b instanceof Uint8Array ? b : Uint8Array.from(b);
    this.chunks.push(Uint8Array.from([...varint((field << 3) | 2), ...varint(data.length)]), data);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, enc.encode(s));
  }
  msg(field: number, m: Msg): this {
    return this.bytes(field, m.finish());
  }
  finish(): Uint8Array {
    const len = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(len);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2; // AttributeProto.AttributeType.INT

function tensorProto(name: string, dims: number[], data: Float32Array): Msg {
  const m = new Msg();
  for (const d of dims) m.int(1, d);
  m.int(2, FLOAT).str(8, name);
  // raw_data is little-endian float32, which is what a Float32Array holds on every platform Node runs on.
  return m.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function valueInfo(name: string, dims: (number | string)[]): Msg {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().str(2, d));
  const tensorType = new Msg().int(1, FLOAT).msg(2, shape);
  return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType));
}

function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, number> = {}): Msg {
  const m = new Msg();
  for (const i of inputs) m.str(1, i);
  for (const o of outputs) m.str(2, o);
  m.str(3, `${op}_${outputs[0]}`).str(4, op);
  for (const [k, v] of Object.entries(attrs)) m.msg(5, new Msg().str(1, k).int(3, v).int(20, ATTR_INT));
  return m;
}

/**
 * ONNX bytes for Linear(+ReLU) layers: params in stateDict order (weight [out, in], bias [out], …).
 * @param dims - layer widths, e.g. [784, 512, 256, 10]
 */
export function mlpOnnx(dims: readonly number[], params: readonly Float32Array[]): Uint8Array {
  const graph = new Msg();
  let cur = 'input';
  for (let l = 0; l + 1 < dims.length; l++) {
    const w = `w${l}`;
    const b = `b${l}`;
    const last = l + 2 === dims.length;
    const gemmOut = last ? 'logits' : `h${l}`;
    graph.msg(1, node('Gemm', [cur, w, b], [gemmOut], { transB: 1 }));
    cur = gemmOut;
    if (!last) {
      graph.msg(1, node('Relu', [cur], [`r${l}`]));
      cur = `r${l}`;
    }
  }
  graph.str(2, 'tensorgrad_bench_mlp');
  for (let l = 0; l + 1 < dims.length; l++) {
    graph.msg(5, tensorProto(`w${l}`, [dims[l + 1]!, dims[l]!], params[2 * l]!));
    graph.msg(5, tensorProto(`b${l}`, [dims[l + 1]!], params[2 * l + 1]!));
  }
  graph.msg(11, valueInfo('input', ['N', dims[0]!]));
  graph.msg(12, valueInfo('logits', ['N', dims[dims.length - 1]!]));
  // ir_version 8, opset 13 (Gemm and Relu are unchanged since; onnxruntime 1.x loads both).
  return new Msg().int(1, 8).str(2, 'tensorgrad-bench').msg(7, graph).msg(8, new Msg().str(1, '').int(2, 13)).finish();
}
