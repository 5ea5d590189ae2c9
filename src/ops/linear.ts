import { isGradEnabled, record } from '../autograd.js';
import { type ChainLayer, MAX_CHAIN_LAYERS, SMALL_CHAIN_RESULT } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { MAX_ELEMENTS, shapeStr, sizeOf } from '../shape.js';
import { type Tensor, ownedTensor, tensorProblem } from '../tensor.js';
import { packedWeight } from './packed-weights.js';
import { requireTensor } from './args.js';
import { empty, scratch } from './util.js';

function check(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined): void {
  requireTensor(op, 'input', x);
  requireTensor(op, 'weight', weight);
  if (bias !== null && bias !== undefined) requireTensor(op, 'bias', bias);
  const k = x.shape[x.ndim - 1];
  if (x.ndim < 1 || weight.ndim !== 2 || weight.shape[1] !== k) {
    throw new Error(`${op}: input ${shapeStr(x.shape)} and weight ${shapeStr(weight.shape)} are incompatible (weight must be [out, ${k ?? 'in'}])`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new Error(`${op}: bias ${shapeStr(bias.shape)} does not match weight ${shapeStr(weight.shape)} (expected [${weight.shape[0]}])`);
  }
}

/** What linear's backward reads: W for dx, x for dW (never the bias), y for the fused ReLU. */
function linearReads(x: Tensor, weight: Tensor, y: Tensor | null): Tensor[] {
  const out: Tensor[] = [];
  if (x.requiresGrad) out.push(weight);
  if (weight.requiresGrad) out.push(x);
  if (y !== null) out.push(y);
  return out;
}

/**
 * y = x·Wᵀ + b (PyTorch's F.linear; W is [out, in]), with relu = true fusing a ReLU. One fused
 * backend call: the native GEMM adds the bias and applies ReLU while the result is in registers.
 * Leading dims of x fold into rows.
 */
function linearOp(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, relu: boolean): Tensor {
  check(op, x, weight, bias);
  const [outF, inF] = weight.shape as [number, number];
  // 2-D input (the usual batch): no slice/spread copies of the shape (see matmulFolded).
  const flat = x.ndim === 2;
  const rows = flat ? x.shape[0]! : sizeOf(x.shape.slice(0, -1));
  // Every element is written by the kernel (a GEMM with beta = 0): a recycled array will do.
  const y = scratch(flat ? [rows, outF] : [...x.shape.slice(0, -1), outF], op);
  if (y.size > 0) {
    getBackend().linear(rows, outF, inF, x._buf, weight._buf, bias ? bias._buf : null, relu, y._buf, packedWeight(weight, rows));
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, op, inputs, linearReads(x, weight, relu ? y : null), (g) => {
    if (y.size === 0) return bias ? [empty(x.shape, op), empty(weight.shape, op), empty(bias.shape, op)] : [empty(x.shape, op), empty(weight.shape, op)];
    // ReLU's derivative comes from its output: y ≤ 0 exactly where the pre-activation was ≤ 0,
    // and y is NaN exactly where it was NaN (where PyTorch passes the gradient). The backend
    // masks g and sums the bias gradient in one sweep, then runs both GEMMs, in one call.
    const gy = relu ? scratch(y.shape, op) : null;
    const gx = x.requiresGrad ? scratch(x.shape, op) : null;
    const gw = weight.requiresGrad ? scratch(weight.shape, op) : null;
    const gb = bias && bias.requiresGrad ? scratch(bias.shape, op) : null;
    getBackend().linearBackward(
      rows,
      outF,
      inF,
      g._buf,
      relu ? y._buf : null,
      gw ? x._buf : null,
      gx ? weight._buf : null,
      gy ? gy._buf : null,
      gx ? gx._buf : null,
      gw ? gw._buf : null,
      gb ? gb._buf : null,
    );
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}

/**
 * y = x·Wᵀ + b in one fused backend call (bias added inside the GEMM). Leading dims of x fold into rows.
 * PyTorch: `torch.nn.functional.linear`.
 * @param x - input [..., in]
 * @param weight - [out, in]
 * @param bias - [out], or null/omitted for none
 * @returns [..., out]
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return linearOp('linear', x, weight, bias, false);
}

/**
 * relu(linear(x, weight, bias)) in one fused call.
 * @param x - input [..., in]
 * @param weight - [out, in]
 * @param bias - [out], or null/omitted for none
 */
export function linearRelu(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return linearOp('linearRelu', x, weight, bias, true);
}

/** One layer of linearChain: a Linear layer's parameters, and whether a ReLU follows it. */
export interface ChainStep {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly relu: boolean;
}

/**
 * @internal Without a graph: x through linear (or linearRelu) for each step, in one backend call
 * (no tensors between the layers; bitwise the layers called one by one). Null, having done
 * nothing, when a step would fail linear's checks or any dim is 0: the caller then runs the
 * layers one by one, and they throw with their own messages. At most MAX_CHAIN_LAYERS steps.
 */
export function linearChain(x: Tensor, steps: readonly ChainStep[]): Tensor | null {
  if (isGradEnabled() || steps.length === 0 || steps.length > MAX_CHAIN_LAYERS || tensorProblem(x) !== null || x.ndim < 1) return null;
  const inF = x.shape[x.ndim - 1]!;
  if (inF === 0 || x.size === 0) return null;
  const layers: ChainLayer[] = [];
  let k = inF;
  for (let i = 0; i < steps.length; i++) {
    const { weight, bias, relu } = steps[i]!;
    if (tensorProblem(weight) !== null || weight.ndim !== 2 || weight.shape[1] !== k) return null;
    const outF = weight.shape[0]!;
    // An activation too large for a tensor: the layer by layer path refuses it with its message.
    if (outF === 0 || (x.size / inF) * outF > MAX_ELEMENTS) return null;
    if (bias !== null && (tensorProblem(bias) !== null || bias.ndim !== 1 || bias.shape[0] !== outF)) return null;
    layers.push({ outF, w: weight._buf, bias: bias === null ? null : bias._buf, relu });
    k = outF;
  }
  const rows = x.size / inF;
  // Once every layer passed its checks (a call that returns null packs nothing).
  for (let i = 0; i < layers.length; i++) {
    const packed = packedWeight(steps[i]!.weight, rows);
    if (packed !== null) layers[i] = { ...layers[i]!, packed };
  }
  const shape = x.ndim === 2 ? [rows, k] : [...x.shape.slice(0, -1), k];
  const be = getBackend();
  if (rows * k <= SMALL_CHAIN_RESULT && be.linearChainSmall !== undefined) {
    return ownedTensor(be.linearChainSmall(rows, inF, x._buf, layers), shape);
  }
  const y = scratch(shape, 'linearChain');
  be.linearChain(rows, inF, x._buf, layers, y._buf);
  return y;
}
