import type { Tensor } from './tensor.js';

/** Above this many elements, print only the first and last EDGE items of each long dim. */
const THRESHOLD = 1000;
const EDGE = 3;

/** Which indices of a dim of size n are shown (null marks the "..." gap). */
function shownIndices(n: number, summarize: boolean): (number | null)[] {
  if (!summarize || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  return [0, 1, 2, null, n - 3, n - 2, n - 1];
}

function chooseFormat(values: number[]): (v: number) => string {
  const finite = values.filter((v) => Number.isFinite(v));
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : null);
  if (finite.every((v) => Number.isInteger(v))) {
    const big = finite.some((v) => Math.abs(v) >= 1e8);
    return (v) => special(v) ?? (big ? sci(v) : `${v}.`);
  }
  // Loops, not Math.min(...values): spreading a few hundred thousand values overflows the stack.
  let lo = Infinity;
  let hi = 0;
  for (const v of finite) {
    const a = Math.abs(v);
    if (a === 0) continue;
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  // PyTorch's rule: scientific notation when magnitudes span > 1000x or leave [1e-4, 1e8).
  const useSci = hi > 0 && (hi / lo > 1000 || hi >= 1e8 || lo < 1e-4);
  return (v) => special(v) ?? (useSci ? sci(v) : v.toFixed(4));
}

function sci(v: number): string {
  const [mant, exp] = v.toExponential(4).split('e') as [string, string];
  const sign = exp[0] === '-' ? '-' : '+';
  const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
  return `${mant}e${sign}${digits}`;
}

/** Prints like PyTorch: tensor([[ 0.1000, -2.0000], ...]) with requiresGrad / gradFn noted. */
export function formatTensor(t: Tensor): string {
  const data = t._read('toString');
  const notes: string[] = [];
  if (t.gradFn) notes.push(`gradFn=<${t.gradFn.op}>`);
  else if (t.requiresGrad) notes.push('requiresGrad=true');
  const prefix = 'tensor(';
  const close = `${notes.map((n) => ', ' + n).join('')})`;
  // Nothing to walk: an empty tensor's other dims can be huge ([2^40, 0, 3]).
  if (t.size === 0) return `${prefix}[]${t.ndim > 1 ? `, size=[${t.shape.join(', ')}]` : ''}${close}`;
  const summarize = t.size > THRESHOLD;
  const strides: number[] = [];
  let s = 1;
  for (let i = t.ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= t.shape[i]!;
  }
  const shown: number[] = [];
  const collect = (dim: number, off: number): void => {
    if (dim === t.ndim) {
      shown.push(data[off]!);
      return;
    }
    for (const i of shownIndices(t.shape[dim]!, summarize)) if (i !== null) collect(dim + 1, off + i * strides[dim]!);
  };
  collect(0, 0);
  const fmt = chooseFormat(shown);
  let width = 0;
  for (const v of shown) width = Math.max(width, fmt(v).length);
  const render = (dim: number, off: number): string => {
    if (dim === t.ndim) return fmt(data[off]!).padStart(width);
    const parts = shownIndices(t.shape[dim]!, summarize).map((i) => (i === null ? '...' : render(dim + 1, off + i * strides[dim]!)));
    if (dim === t.ndim - 1) return `[${parts.join(', ')}]`;
    const indent = ' '.repeat(prefix.length + dim + 1);
    return `[${parts.join(',' + '\n'.repeat(t.ndim - dim - 1) + indent)}]`;
  };
  return `${prefix}${render(0, 0)}${close}`;
}
