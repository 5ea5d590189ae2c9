import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { shapeStr, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { empty } from './util.js';

function check(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined): void {
  const k = x.shape[x.ndim - 1];
  if (x.ndim < 1 || weight.ndim !== 2 || weight.shape[1] !== k) {
    throw new Error(`${op}: input ${shapeStr(x.shape)} and weight ${shapeStr(weight.shape)} are incompatible (weight must be [out, ${k ?? 'in'}])`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new Error(`${op}: bias ${shapeStr(bias.shape)} does not match weight ${shapeStr(weight.shape)} (expected [${weight.shape[0]}])`);
  }
}

/**
 * y = x·Wᵀ + b (PyTorch's F.linear; W is [out, in]), with relu = true fusing a ReLU. One fused
 * backend call: the native GEMM adds the bias and applies ReLU while the result is in registers.
 * Leading dims of x fold into rows.
 */
function linearOp(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, relu: boolean): Tensor {
  check(op, x, weight, bias);
  const [outF, inF] = weight.shape as [number, number];
  const rows = sizeOf(x.shape.slice(0, -1));
  const y = empty([...x.shape.slice(0, -1), outF]);
  getBackend().linear(rows, outF, inF, x.data, weight.data, bias ? bias.data : null, relu, y.data);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, op, inputs, (g) => {
    const be = getBackend();
    let gy = g;
    if (relu) {
      // ReLU's derivative from its output: y > 0 exactly where the pre-activation was > 0.
      gy = empty(y.shape);
      be.unaryGrad('relu', y.data, y.data, g.data, gy.data, 0, 0);
    }
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.shape);
      be.gemm(false, false, rows, inF, outF, 1, gy.data, weight.data, 0, gx.data);
    }
    if (weight.requiresGrad) {
      gw = empty(weight.shape);
      be.gemm(true, false, outF, inF, rows, 1, gy.data, x.data, 0, gw.data);
    }
    if (bias && bias.requiresGrad) {
      gb = empty(bias.shape);
      be.reduce('sum', gy.data, 1, rows, outF, gb.data, null);
    }
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return linearOp('linear', x, weight, bias, false);
}

/** relu(linear(x, weight, bias)) in one fused call. */
export function linearRelu(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return linearOp('linearRelu', x, weight, bias, true);
}
