// XOR with a two-layer MLP built from raw tensors and hand-written SGD.
// XOR is not linearly separable: remove .tanh() and no amount of training gets past 75%.
import * as tg from 'tensorgrad';

tg.manualSeed(0);
const x = tg.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), y = tg.tensor([[0], [1], [1], [0]]);
const w1 = tg.randn([2, 8], { requiresGrad: true }), b1 = tg.zeros([8], { requiresGrad: true });
const w2 = tg.randn([8, 1], { requiresGrad: true }), b2 = tg.zeros([1], { requiresGrad: true });
const forward = (x) => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sigmoid();
for (let step = 0; step < 1000; step++) {
  forward(x).sub(y).pow(2).mean().backward();
  for (const p of [w1, b1, w2, b2]) { p.data.forEach((v, i) => (p.data[i] = v - 1.0 * p.grad.data[i])); p.grad = null; }
}
const pred = tg.noGrad(() => forward(x));
console.log(pred.toString());
console.log(`accuracy: ${pred.data.filter((p, i) => (p > 0.5) === (y.data[i] === 1)).length / 4 * 100}%`);
