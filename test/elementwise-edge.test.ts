// Elementwise ops at their edges: every operand position names the op when it is junk, the
// function forms (tg.neg, …) and method forms agree, clamp with one bound or equal bounds, pow's
// exponent check, and which tensors each op's backward reads (so which in-place writes between
// forward and backward must be refused, and which must not be).
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

const junk = 'x' as unknown as tg.Tensor;

describeBackends('elementwise ops: names, forms and bounds', () => {
  it('a junk operand in either position is refused, naming the op', () => {
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      expect(() => tg[op](junk, tg.ones([2])), `${op} first`).toThrow(new RegExp(`^${op}\\b`));
      expect(() => tg[op](tg.ones([2]), junk), `${op} second`).toThrow(new RegExp(`^${op}\\b`));
    }
  });

  it('records each op under its own name', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    for (const op of ['add', 'sub', 'mul', 'div'] as const) expect(tg[op](x, 2).gradFn?.op, op).toBe(op);
    for (const op of ['neg', 'sqrt', 'exp', 'log', 'abs'] as const) expect(tg[op](x).gradFn?.op, op).toBe(op);
  });

  it('the function forms compute what the methods compute', () => {
    const v = [0.25, 1, 4];
    const x = tg.tensor(v);
    expect(Array.from(tg.neg(x).data)).toEqual(v.map((a) => -a));
    expect(Array.from(tg.sqrt(x).data)).toEqual([0.5, 1, 2]);
    expect(Array.from(tg.abs(tg.tensor([-2, 0, 3])).data)).toEqual([2, 0, 3]);
    expect(Array.from(tg.exp(tg.tensor([0])).data)).toEqual([1]);
    expect(Array.from(tg.log(tg.tensor([1])).data)).toEqual([0]);
    expect(Array.from(tg.exp(x).data)).toEqual(Array.from(x.exp().data));
    expect(Array.from(tg.log(x).data)).toEqual(Array.from(x.log().data));
  });

  it('clamp with only a max, only a min, or equal bounds', () => {
    const x = tg.tensor([-3, -1, 0.5, 2, 5]);
    expect(Array.from(tg.clamp(x, null, 1).data)).toEqual([-3, -1, 0.5, 1, 1]);
    expect(Array.from(tg.clamp(x, undefined, -2).data)).toEqual([-3, -2, -2, -2, -2]);
    expect(Array.from(x.clamp(null, -1).data)).toEqual([-3, -1, -1, -1, -1]);
    expect(Array.from(tg.clamp(x, 0).data)).toEqual([0, 0, 0.5, 2, 5]);
    expect(Array.from(tg.clamp(x, 0, null).data)).toEqual([0, 0, 0.5, 2, 5]);
    expect(Array.from(tg.clamp(x, 1, 1).data)).toEqual([1, 1, 1, 1, 1]);
    expect(() => tg.clamp(x)).toThrow(/^clamp\b/);
    expect(() => tg.clamp(x, null, null)).toThrow(/^clamp\b/);
    expect(() => tg.clamp(x, 2, 1)).toThrow(/^clamp\b/);
  });

  it('pow takes a finite number exponent only', () => {
    expect(Array.from(tg.pow(tg.tensor([3]), 2).data)).toEqual([9]);
    for (const e of ['2', NaN, Infinity, null]) {
      expect(() => tg.pow(tg.tensor([3]), e as number), String(e)).toThrow(/^pow\b/);
    }
  });
});

describeBackends('what each elementwise backward reads', () => {
  /** Runs f, writes `which` through .data, then checks whether backward refuses. */
  function refuses(build: (x: tg.Tensor, c: tg.Tensor) => { out: tg.Tensor; write: tg.Tensor }, xGrad: boolean, cGrad: boolean): boolean {
    const x = tg.tensor([1.5, 2], { requiresGrad: xGrad });
    const c = tg.tensor([3, 0.5], { requiresGrad: cGrad });
    const { out, write } = build(x, c);
    const loss = out.sum();
    write.data[0] = 7;
    try {
      loss.backward();
      return false;
    } catch (e) {
      expect((e as Error).message).toMatch(/backward/);
      return true;
    }
  }

  it('mul reads the other operand of each input that needs a gradient', () => {
    expect(refuses((x, c) => ({ out: x.mul(c), write: c }), true, false)).toBe(true);
    expect(refuses((x, c) => ({ out: x.mul(c), write: x }), true, false)).toBe(false);
    expect(refuses((x, c) => ({ out: x.mul(c), write: x }), false, true)).toBe(true);
    expect(refuses((x, c) => ({ out: x.mul(c), write: c }), false, true)).toBe(false);
    expect(refuses((x, c) => ({ out: x.mul(c), write: x }), true, true)).toBe(true);
    expect(refuses((x, c) => ({ out: x.mul(c), write: c }), true, true)).toBe(true);
  });

  it('div reads the divisor, and its output when the divisor needs a gradient', () => {
    expect(refuses((x, c) => ({ out: x.div(c), write: c }), true, false)).toBe(true);
    expect(refuses((x, c) => ({ out: x.div(c), write: x }), true, false)).toBe(false);
    const outWrite = (x: tg.Tensor, c: tg.Tensor) => {
      const out = x.div(c);
      return { out, write: out };
    };
    expect(refuses(outWrite, false, true)).toBe(true);
    expect(refuses(outWrite, true, false)).toBe(false);
  });

  it('add and sub read neither operand', () => {
    expect(refuses((x, c) => ({ out: x.add(c), write: x }), true, true)).toBe(false);
    expect(refuses((x, c) => ({ out: x.sub(c), write: c }), true, true)).toBe(false);
  });

  it('neg reads nothing; sqrt, exp, sigmoid, tanh read their output; the other maps read their input', () => {
    const viaOutput = ['sqrt', 'exp', 'sigmoid', 'tanh'] as const;
    const viaInput = ['log', 'abs', 'relu'] as const;
    const run = (op: string, which: 'in' | 'out') =>
      refuses((x) => {
        const out = (x as unknown as Record<string, () => tg.Tensor>)[op]!();
        return { out, write: which === 'in' ? x : out };
      }, true, false);
    expect(run('neg', 'in')).toBe(false);
    expect(run('neg', 'out')).toBe(false);
    for (const op of viaOutput) {
      expect(run(op, 'out'), `${op} output`).toBe(true);
      expect(run(op, 'in'), `${op} input`).toBe(false);
    }
    for (const op of viaInput) {
      expect(run(op, 'in'), `${op} input`).toBe(true);
      expect(run(op, 'out'), `${op} output`).toBe(false);
    }
  });
});
