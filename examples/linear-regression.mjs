// Linear regression by gradient descent on the mean squared error, checked against the exact
// least-squares answer. The data are y = x·Wᵀ + b + noise with W and b known, so we can see whether
// training recovers them: it should, up to what the noise allows, and it should land on the very
// same point as the closed form, because MSE of an affine model is a convex quadratic with one minimum.
import * as tg from 'tensorgrad';

tg.manualSeed(0);
const N = 400, IN = 3, OUT = 2, NOISE = 0.1;
// PyTorch's layout: weight is [out, in], so the model computes x·Wᵀ + b.
const wTrue = tg.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, 3.0]]);
const bTrue = tg.tensor([0.7, -1.2]);
const x = tg.randn([N, IN]);
const y = x.matmul(wTrue.T).add(bTrue).add(tg.randn([N, OUT]).mul(NOISE));

// Full-batch gradient descent. The loss averages over both outputs, so with standard-normal inputs its
// curvature is about 1 in every direction: lr 0.1 shrinks the error ~10% per step, and 200 steps
// reach float32 precision.
const model = new tg.Linear(IN, OUT);
const opt = new tg.SGD(model.parameters(), { lr: 0.1 });
let loss;
for (let step = 0; step < 200; step++) {
  opt.zeroGrad();
  loss = tg.mseLoss(model.forward(x), y);
  loss.backward();
  opt.step();
}
const finalLoss = tg.noGrad(() => tg.mseLoss(model.forward(x), y).item());

// Closed form: append a column of ones so the bias is one more weight, then solve the normal
// equations (AᵀA)θ = Aᵀy. AᵀA and Aᵀy come from the library; the 4×4 solve is done in float64.
const a = tg.concat([x, tg.ones([N, 1])], 1);
const theta = solve(a.T.matmul(a), a.T.matmul(y)); // [IN + 1][OUT]

// Gauss–Jordan elimination with partial pivoting on m·X = r (m square, r with several columns).
function solve(m, r) {
  const n = m.shape[0], k = r.shape[1];
  const rows = Array.from({ length: n }, (_, i) => [...m.data.subarray(i * n, (i + 1) * n), ...r.data.subarray(i * k, (i + 1) * k)]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(rows[i][c]) > Math.abs(rows[p][c])) p = i;
    [rows[c], rows[p]] = [rows[p], rows[c]];
    if (Math.abs(rows[c][c]) < 1e-12) throw new Error('linear-regression: the normal equations are singular');
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const f = rows[i][c] / rows[c][c];
      for (let j = c; j < n + k; j++) rows[i][j] -= f * rows[c][j];
    }
  }
  return rows.map((row, i) => row.slice(n).map((v) => v / rows[i][i]));
}

const fmt = (v) => v.toFixed(4).padStart(14);
console.log(`${'parameter'.padEnd(9)}${'true'.padStart(14)}${'SGD'.padStart(14)}${'least-squares'.padStart(14)}`);
let worstTrue = 0, worstClosed = 0;
const row = (name, t, g, c) => {
  worstTrue = Math.max(worstTrue, Math.abs(g - t));
  worstClosed = Math.max(worstClosed, Math.abs(g - c));
  console.log(`${name.padEnd(9)}${fmt(t)}${fmt(g)}${fmt(c)}`);
};
for (let o = 0; o < OUT; o++) {
  for (let i = 0; i < IN; i++) row(`W[${o},${i}]`, wTrue.data[o * IN + i], model.weight.data[o * IN + i], theta[i][o]);
}
for (let o = 0; o < OUT; o++) row(`b[${o}]`, bTrue.data[o], model.bias.data[o], theta[IN][o]);
console.log(`final MSE: ${finalLoss.toFixed(5)} (the noise alone gives about ${(NOISE * NOISE).toFixed(5)})`);
console.log(`max |SGD - true|: ${worstTrue.toExponential(2)}`);
console.log(`max |SGD - least-squares|: ${worstClosed.toExponential(2)}`);

// With 400 samples and noise 0.1 the estimate's standard error is about 0.005 per weight.
if (worstTrue > 0.05) throw new Error(`linear-regression: recovered weights are ${worstTrue} away from the truth (allowed 0.05)`);
if (worstClosed > 1e-3) throw new Error(`linear-regression: gradient descent stopped ${worstClosed} away from the least-squares solution`);
if (!(finalLoss < 2 * NOISE * NOISE)) throw new Error(`linear-regression: final MSE ${finalLoss} is well above the noise level ${NOISE * NOISE}`);
