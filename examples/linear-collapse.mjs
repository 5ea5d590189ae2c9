// Depth without nonlinearity buys nothing: Linear layers stacked with no activation between them
// compose to a single affine map, W3(W2(W1x + b1) + b2) + b3 = (W3W2W1)x + (W3(W2b1 + b2) + b3).
// So a "deep" linear network can only draw one straight decision boundary, and XOR needs two.
import * as tg from 'tensorgrad';

const xor = { x: tg.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), y: tg.tensor([[0], [1], [1], [0]]) };

/** The Linear layers' weights multiplied out into one affine map (W, b); activations are ignored. */
function collapse(net) {
  return tg.noGrad(() => {
    let w = null, b = null;
    for (const layer of net.layers.filter((l) => l instanceof tg.Linear)) {
      // Each layer maps (w, b) to (Wl·w, Wl·b + bl).
      w = w === null ? layer.weight : layer.weight.matmul(w);
      b = b === null ? layer.bias : layer.weight.matmul(b.reshape(-1, 1)).reshape(-1).add(layer.bias);
    }
    return { w, b };
  });
}

/** Trains on the four XOR points with a logistic (BCE) loss; returns the final loss, accuracy, p(y=1). */
function trainXor(net) {
  const opt = new tg.Adam(net.parameters(), { lr: 0.05 });
  for (let step = 0; step < 600; step++) {
    opt.zeroGrad();
    const loss = tg.bceWithLogits(net.forward(xor.x), xor.y);
    loss.backward();
    opt.step();
  }
  return tg.noGrad(() => {
    const logits = net.forward(xor.x);
    const loss = tg.bceWithLogits(logits, xor.y).item();
    const correct = [...logits.data].filter((z, i) => (z > 0) === (xor.y.data[i] === 1)).length;
    const spread = Math.max(...[...logits.data].map(Math.abs));
    return { loss, accuracy: correct / 4, probs: [...logits.sigmoid().data], spread };
  });
}

// Four decimals, without printing rounding noise as "-0.0000".
const f4 = (v) => (Math.abs(v) < 5e-5 ? 0 : v).toFixed(4);

tg.manualSeed(0);
const linear = new tg.Sequential(new tg.Linear(2, 8), new tg.Linear(8, 8), new tg.Linear(8, 1));

// 1. The collapse is exact (up to float32 rounding): compare on random inputs, not only on XOR's.
const probe = tg.randn([1000, 2]);
const { w, b } = collapse(linear);
const diff = tg.noGrad(() => linear.forward(probe).sub(probe.matmul(w.T).add(b)).abs().max().item());
console.log(`Sequential(Linear(2,8), Linear(8,8), Linear(8,1)) has ${linear.parameters().reduce((n, p) => n + p.size, 0)} parameters,`);
console.log(`but computes one affine map: W = W3·W2·W1 = [${[...w.data].map(f4).join(', ')}], b = ${f4(b.data[0])}`);
console.log(`max |network(x) - (W·x + b)| over 1000 random inputs: ${diff.toExponential(2)}`);

// 2. Trained on XOR it can do no better than a single Linear(2, 1): the best affine fit predicts
// 0.5 everywhere, where the BCE is ln 2; any threshold of a plane gets at most 3 of 4 points right.
const lin = trainXor(linear);
const after = collapse(linear);
console.log('\nXOR, no activation:');
console.log(`  p(y=1) for (0,0) (0,1) (1,0) (1,1): ${lin.probs.map((p) => p.toFixed(3)).join(' ')}`);
console.log(`  loss ${lin.loss.toFixed(4)} (ln 2 = ${Math.LN2.toFixed(4)}), accuracy ${lin.accuracy * 100}%`);
// Every logit is ~0, so which side of 0.5 each prediction falls on is rounding noise.
console.log(`  (the largest |logit| is ${lin.spread.toExponential(1)}: that accuracy is a coin toss, not learning)`);
console.log(`  collapsed after training: W = [${[...after.w.data].map(f4).join(', ')}], b = ${f4(after.b.data[0])}`);

// 3. One nonlinearity between the layers breaks the collapse and XOR becomes easy.
tg.manualSeed(0);
const deep = new tg.Sequential(new tg.Linear(2, 8), new tg.Tanh(), new tg.Linear(8, 8), new tg.Tanh(), new tg.Linear(8, 1));
const non = trainXor(deep);
console.log('\nXOR, Tanh between the layers:');
console.log(`  p(y=1) for (0,0) (0,1) (1,0) (1,1): ${non.probs.map((p) => p.toFixed(3)).join(' ')}`);
console.log(`  loss ${non.loss.toExponential(2)}, accuracy ${non.accuracy * 100}%`);
const bent = collapse(deep);
const notAffine = tg.noGrad(() => deep.forward(probe).sub(probe.matmul(bent.w.T).add(bent.b)).abs().max().item());
console.log(`  multiplying its weights out now misses the network by up to ${notAffine.toFixed(2)}: it is no longer affine`);

if (!(diff < 1e-4)) throw new Error(`linear-collapse: the multiplied-out map differs from the network by ${diff}`);
if (lin.accuracy > 0.75) throw new Error(`linear-collapse: a linear network reached ${lin.accuracy * 100}% on XOR, which no affine map can`);
if (!(Math.abs(lin.loss - Math.LN2) < 0.01)) throw new Error(`linear-collapse: the linear network's loss ${lin.loss} is not stuck near ln 2`);
if (non.accuracy !== 1) throw new Error(`linear-collapse: with Tanh the network reached only ${non.accuracy * 100}% on XOR`);
