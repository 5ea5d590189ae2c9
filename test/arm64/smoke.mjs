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
