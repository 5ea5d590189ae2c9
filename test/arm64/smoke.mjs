// Run by scripts/test-arm64.mjs with an aarch64 Node under qemu-aarch64, from a copy of the package
// whose only addon is the cross-built prebuilds/linux-arm64 one. Checks that it loads and that its
// kernels agree with the TypeScript backend on GEMMs and on a few training steps. Exits 1 on any
// failure, printing what differed.
import assert from 'node:assert/strict';

const tg = await import(process.argv[2]);
const { jsBackend } = await import(new URL('backend/js/index.js', process.argv[2]).href);
const { getBackend, setBackend } = await import(new URL('backend/index.js', process.argv[2]).href);

assert.equal(process.arch, 'arm64', 'this smoke test must run on an arm64 Node');
const info = tg.backendInfo();
console.log('backendInfo:', JSON.stringify(info));
assert.equal(info.backend, 'native', 'the linux-arm64 prebuild did not load');
assert.equal(info.isa, 'neon', 'the addon does not run its NEON kernels');
const native = getBackend();

// GEMM in every form, odd sizes, against the TypeScript kernel. The two sum in different orders
// and precisions (float32 chains here, float64 there), so they agree to rounding: a wrong element
// would be off by O(1), rounding over k = 256 terms of size ~1 stays near 1e-5.
tg.manualSeed(1);
let worst = 0;
for (const [m, n, k] of [[1, 10, 256], [7, 13, 5], [33, 65, 129], [128, 64, 100]]) {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const a = tg.randn([m * k])._data;
      const b = tg.randn([k * n])._data;
      const c1 = new Float32Array(m * n).fill(0.5);
      const c2 = c1.slice();
      native.gemm(ta, tb, m, n, k, 1.5, a, b, 0.25, c1);
      jsBackend.gemm(ta, tb, m, n, k, 1.5, a, b, 0.25, c2);
      for (let i = 0; i < c1.length; i++) worst = Math.max(worst, Math.abs(c1[i] - c2[i]) / (1 + Math.abs(c2[i])));
    }
  }
}
console.log(`gemm: largest relative difference from the TypeScript backend ${worst.toExponential(2)}`);
assert.ok(worst < 1e-4, `gemm differs from the TypeScript backend by ${worst}`);

// exp, log and pow through the addon at their edges: on arm64 the portable kernels call libm per
// element, bound to its oldest symbol versions (native/glibc_compat.cc), which differ from the
// current ones only in errno handling; the results must be IEEE's.
const edge = (name, f, xs, p0 = 0) => {
  const x = Float32Array.from(xs);
  const out = new Float32Array(xs.length);
  native.unary(name, x, out, p0, 0);
  const want = Float32Array.from(xs, (v) => f(v));
  for (let i = 0; i < xs.length; i++) {
    const ok = Number.isNaN(want[i]) ? Number.isNaN(out[i]) : out[i] === want[i] || Math.abs(out[i] - want[i]) <= 4e-7 * Math.abs(want[i]);
    assert.ok(ok, `${name}(${xs[i]}${name === 'pow' ? `, ${p0}` : ''}) = ${out[i]}, want ${want[i]}`);
  }
};
edge('exp', Math.exp, [0, 1, -1, 10.5, 710, -746, Infinity, -Infinity, NaN]);
edge('log', Math.log, [1, 2, 0.5, 1e-30, 0, -1, Infinity, NaN]);
edge('pow', (v) => Math.pow(v, 0.5), [9, 2, -8, 0, Infinity], 0.5);
edge('pow', (v) => Math.pow(v, -1), [4, 0, -2, Infinity, NaN], -1);
console.log('exp, log, pow at their edges: ok');

// predict() of an MLP runs its Linear layers as one linearChain call: the same bits as those
// layers through native.linear one by one, and the TypeScript backend's values to rounding.
{
  setBackend(native);
  tg.manualSeed(3);
  const model = tg.mlp({ inputs: 30, hidden: [40, 20], outputs: 5 });
  const x = tg.randn([9, 30]);
  const got = tg.predict(model, x)._data;
  const ps = model.parameters().map((p) => p._data);
  let h = x._data;
  const dims = [30, 40, 20, 5];
  for (let l = 0; l < 3; l++) {
    const y = new Float32Array(9 * dims[l + 1]);
    native.linear(9, dims[l + 1], dims[l], h, ps[2 * l], ps[2 * l + 1], l < 2, y);
    h = y;
  }
  for (let i = 0; i < got.length; i++) assert.ok(Object.is(got[i], h[i]), `predict element ${i}: ${got[i]} vs ${h[i]} layer by layer`);
  setBackend(jsBackend);
  const ts = tg.predict(model, x)._data;
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - ts[i]) < 1e-4 * (1 + Math.abs(ts[i])), `predict element ${i}: ${got[i]} vs TS ${ts[i]}`);
  setBackend(native);
  console.log('predict (linearChain): the layers\' bits, and the TypeScript backend to rounding: ok');
}

// A few training steps of a small MLP on each backend from the same seed: the losses must agree.
function train(backend) {
  setBackend(backend);
  tg.manualSeed(7);
  const model = tg.mlp({ inputs: 20, hidden: [32, 16], outputs: 4 });
  const opt = new tg.Adam(model.parameters(), { lr: 1e-2 });
  const x = tg.randn([64, 20]);
  const y = tg.tensor(Array.from({ length: 64 }, (_, i) => i % 4));
  const losses = [];
  for (let s = 0; s < 5; s++) {
    const loss = tg.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  return losses;
}
const nativeLosses = train(native);
const jsLosses = train(jsBackend);
console.log('losses native', nativeLosses.map((v) => v.toFixed(6)).join(' '));
console.log('losses js    ', jsLosses.map((v) => v.toFixed(6)).join(' '));
for (let s = 0; s < 5; s++) assert.ok(Math.abs(nativeLosses[s] - jsLosses[s]) < 1e-4, `step ${s}: ${nativeLosses[s]} vs ${jsLosses[s]}`);
assert.ok(nativeLosses[4] < nativeLosses[0], 'the loss did not go down');
console.log('arm64 smoke test: ok');
