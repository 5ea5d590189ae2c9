// Picking a loss is picking a likelihood. A classifier's softmax outputs p are a categorical
// distribution over the classes; maximising the likelihood of the true class y is minimising
// −log p_y, the cross-entropy. Squared error on one-hot targets, ‖p − onehot(y)‖², is instead the
// likelihood of a Gaussian around p: a model of continuous noise, not of a class label.
//
// The practical difference is in the gradient reaching the logits z. For cross-entropy it is
// p − onehot(y): as large as the mistake. For MSE through softmax it is J(p)ᵀ·2(p − onehot(y)),
// and the softmax Jacobian J(p) = diag(p) − ppᵀ vanishes as p saturates: a confidently wrong
// prediction (p_y ≈ 0) gets almost no push, exactly when it needs the largest.
import * as tg from 'tensorgrad';

const CLASSES = 10;
const ce = (out, y) => tg.crossEntropy(out, y);
const mse = (out, y) => tg.mseLoss(out.softmax(-1), tg.oneHot(y, CLASSES));

// 1. The two gradients for one example of class 0, as the model grows surer that it is class 1.
function logitGradient(loss, logits) {
  const z = tg.tensor([logits], { requiresGrad: true });
  loss(z, tg.tensor([0])).backward();
  return z.grad.data[0];
}
console.log('gradient on the true class logit (negative = pushed up), one example of class 0:');
console.log('  p(true class)   cross-entropy   MSE on softmax');
for (const wrong of [0, 2, 5, 8]) {
  const logits = Array.from({ length: CLASSES }, (_, c) => (c === 1 ? wrong : 0));
  const p = Math.exp(0) / (Math.exp(wrong) + CLASSES - 1);
  const g = [ce, mse].map((f) => logitGradient(f, logits));
  console.log(`  ${p.toFixed(4).padStart(13)}   ${g[0].toFixed(5).padStart(13)}   ${g[1].toFixed(5).padStart(14)}`);
}
// mseLoss averages over the 10 outputs, a constant factor 1/10; the trend is what counts.
console.log('  (the MSE column includes mseLoss\'s mean over 10 outputs, a constant 1/10; what matters is that');
console.log('   it fades toward 0 as the model grows surer of the wrong class, while cross-entropy\'s grows toward -1)');

// 2. The same network, data, seed, optimizer and epochs, trained once with each loss.
const data = tg.loadDigits();
const EPOCHS = 6;
async function train(name, loss) {
  tg.manualSeed(0);
  const model = tg.mlp({ inputs: 784, hidden: [64], outputs: CLASSES });
  const optimizer = new tg.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const history = await tg.fit(model, {
    train: data.train, validation: data.test, batchSize: 64, epochs: EPOCHS,
    optimizer, loss, metrics: ['accuracy'], progress: 'none',
  });
  // Judge both models by the same yardstick: the likelihood their probabilities give the test labels.
  const logits = tg.predict(model, data.test.tensors[0]);
  const labels = data.test.tensors[1];
  const probs = tg.noGrad(() => logits.softmax(-1));
  const nll = tg.noGrad(() => tg.crossEntropy(logits, labels).item());
  const confidence = tg.noGrad(() => probs.max(-1).mean().item());
  const accuracy = history.epochs.at(-1).valMetrics.accuracy;
  return { name, nll, confidence, accuracy, perEpoch: history.epochs.map((e) => e.valMetrics.accuracy) };
}
const runs = [await train('cross-entropy', ce), await train('MSE on softmax', mse)];

console.log(`\ntest accuracy after each epoch (MLP 784-64-10, SGD lr 0.1 momentum 0.9, batch 64):`);
console.log(`  epoch  ${runs.map((r) => r.name.padStart(17)).join('')}`);
for (let e = 0; e < EPOCHS; e++) {
  console.log(`  ${String(e + 1).padStart(5)}  ${runs.map((r) => `${(r.perEpoch[e] * 100).toFixed(1)}%`.padStart(17)).join('')}`);
}
console.log(`\non the ${data.test.length} test digits:`);
console.log(`                    ${runs.map((r) => r.name.padStart(17)).join('')}`);
console.log(`  accuracy          ${runs.map((r) => `${(r.accuracy * 100).toFixed(1)}%`.padStart(17)).join('')}`);
console.log(`  test NLL          ${runs.map((r) => r.nll.toFixed(4).padStart(17)).join('')}`);
console.log(`  mean confidence   ${runs.map((r) => `${(r.confidence * 100).toFixed(1)}%`.padStart(17)).join('')}`);
console.log('(test NLL is the cross-entropy of the softmaxed outputs; mean confidence the mean largest probability)');
console.log('\nwhy cross-entropy learns faster: its gradient on the logits is p - onehot(y), as large as the mistake;');
console.log("MSE's passes through the softmax Jacobian diag(p) - pp^T, which vanishes as p saturates, so the digits");
console.log('the model is surest about and wrong on are the ones it corrects most slowly. Maximising the right');
console.log('likelihood (categorical, not Gaussian) also gives probabilities that score better on held-out labels.');

const [c, m] = runs;
if (!(c.nll < m.nll)) throw new Error(`losses-as-likelihood: cross-entropy did not beat MSE on test NLL (${c.nll} vs ${m.nll})`);
