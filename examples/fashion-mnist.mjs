// Fashion-MNIST with Dropout, AdamW, MixUp and an ensemble: one MLP, then an ensemble of MLPs whose
// averaged probabilities beat any one of them.
//
//   node examples/fashion-mnist.mjs [--members N] [--epochs E] [--seed S] [--out dir]
//
// Every setting below was chosen on a validation split (the last 5,000 training images); this script
// trains on all 60,000 training images for a fixed number of epochs and looks at the 10,000 test
// images once, at the end, to report. Nothing here is tuned on the test set.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tg from 'tensorgrad';

// The quality bars this example is held to (test accuracy on the official 10k test set).
const BAR_SINGLE = 0.895;
const BAR_ENSEMBLE = 0.905;

const RECIPE = {
  hidden: [1024, 512],
  dropout: 0.3,
  // AdamW's decoupled weight decay; the cosine schedule takes the rate from lr to 0 over the run.
  lr: 2e-3,
  weightDecay: 0.01,
  batchSize: 256,
  // λ ~ Beta(0.2, 0.2) mostly stays near 0 or 1: gentle mixing, which is what a small MLP can use.
  mixupAlpha: 0.2,
  epochs: 30,
  members: 3,
};

const usage = 'usage: node examples/fashion-mnist.mjs [--members N] [--epochs E] [--seed S] [--out dir]';

function positiveInt(name, text, fallback) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < (name === 'seed' ? 0 : 1)) {
    console.error(`fashion-mnist.mjs: --${name} must be a ${name === 'seed' ? 'non-negative' : 'positive'} integer, got '${text}'\n${usage}`);
    process.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      members: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  console.error(`fashion-mnist.mjs: ${e.message}\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}
const members = positiveInt('members', args.members, RECIPE.members);
const epochs = positiveInt('epochs', args.epochs, RECIPE.epochs);
const seed = positiveInt('seed', args.seed, 0);
const outDir = args.out ?? fileURLToPath(new URL('out/', import.meta.url));

const started = performance.now();
const info = tg.backendInfo();
console.log(`tensorgrad ${info.backend} backend, ${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`);

let data;
try {
  data = tg.loadFashionMnist();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
const [xTrainRaw, yTrain] = data.train.tensors;
const [xTestRaw, yTest] = data.test.tensors;

// Standardise each pixel with the training images' mean and standard deviation (test images get the
// same, already fitted, map: their own statistics would leak into the model).
const scaler = new tg.StandardScaler().fit(xTrainRaw);
const train = new tg.TensorDataset(scaler.transform(xTrainRaw), yTrain);
const test = new tg.TensorDataset(scaler.transform(xTestRaw), yTest);

const spec = { inputs: 784, hidden: RECIPE.hidden, outputs: data.classes.length, dropout: RECIPE.dropout };
console.log(
  `data: ${train.length} training images, ${test.length} test images; ` +
    `model: MLP ${[784, ...spec.hidden, spec.outputs].join('-')}, ReLU, dropout ${spec.dropout}; ` +
    `AdamW lr ${RECIPE.lr} (cosine to 0), weight decay ${RECIPE.weightDecay}, batch ${RECIPE.batchSize}, MixUp α=${RECIPE.mixupAlpha}, ${epochs} epochs, seed ${seed}`,
);

// Factories, so every model gets its own optimizer and schedule. MixUp draws from the library-wide
// generator, which manualSeed (and Ensemble.train, per member) resets: one seed fixes everything.
const fitOptions = {
  train,
  epochs,
  batchSize: RECIPE.batchSize,
  optimizer: (model) => new tg.AdamW(model.parameters(), { lr: RECIPE.lr, weightDecay: RECIPE.weightDecay }),
  scheduler: (optimizer) => new tg.CosineAnnealingLR(optimizer, { tMax: epochs }),
  batchTransform: new tg.MixUp({ alpha: RECIPE.mixupAlpha, numClasses: spec.outputs }),
  progress: everyTenthEpoch(),
};

const pct = (v) => `${(v * 100).toFixed(2)}%`;
const minutes = (ms) => `${(ms / 60000).toFixed(1)} min`;

// 1. One MLP.
let t0 = performance.now();
console.log('\nsingle MLP');
tg.manualSeed(seed);
const single = tg.mlp(spec);
const history = await tg.fit(single, fitOptions);
const singleResult = await tg.evaluate(single, test);
const singleAcc = singleResult.metrics.accuracy;
console.log(`single MLP test accuracy: ${pct(singleAcc)} (loss ${singleResult.loss.toFixed(4)}), trained in ${minutes(performance.now() - t0)}`);

// 2. The ensemble. Its members' seeds follow the single model's, so it is not one of them.
t0 = performance.now();
console.log(`\nensemble of ${members}`);
const { ensemble } = await tg.Ensemble.train(members, () => tg.mlp(spec), {
  ...fitOptions,
  seed: seed + 1,
  onMemberEnd: (i) => console.log(`member ${i + 1}/${members} trained`),
});
const ensembleResult = await ensemble.evaluate(test);
ensembleResult.members.forEach((m, i) => console.log(`member ${i + 1} test accuracy: ${pct(m.metrics.accuracy)}`));
const ensembleAcc = ensembleResult.metrics.accuracy;
console.log(`ensemble of ${members} test accuracy: ${pct(ensembleAcc)} (loss ${ensembleResult.loss.toFixed(4)}), trained in ${minutes(performance.now() - t0)}`);

// 3. The training curves and the ensemble, with what is needed to use it again (tensorgrad predict).
mkdirSync(outDir, { recursive: true });
const chartPath = join(outDir, 'fashion-mnist-history.svg');
tg.writeSvg(chartPath, tg.historyChart(history, { title: `Fashion-MNIST: MLP ${[784, ...spec.hidden, spec.outputs].join('-')}, one model` }));
const modelPath = join(outDir, 'fashion-mnist-ensemble.safetensors');
await tg.saveModel(modelPath, ensemble, {
  spec,
  classes: data.classes,
  preprocess: scaler.toJSON(),
  extra: { dataset: 'fashion-mnist', seed: String(seed), epochs: String(epochs), testAccuracy: String(ensembleAcc) },
});
console.log(`\nwrote ${chartPath} and ${modelPath}`);

const met = (acc, bar) => `${pct(acc)} ${acc >= bar ? '≥' : '<'} ${pct(bar)} ${acc >= bar ? 'met' : 'MISSED'}`;
console.log(`total time ${minutes(performance.now() - started)} (${info.backend}, ${info.isa}, ${info.threads} threads)`);
console.log(`verdict: single MLP ${met(singleAcc, BAR_SINGLE)}; ensemble of ${members} ${met(ensembleAcc, BAR_ENSEMBLE)}`);

// Progress every tenth epoch (and the last), so a run of several models stays readable.
function everyTenthEpoch() {
  return {
    epochBegin() {},
    step() {},
    epochEnd(log, total) {
      if (log.epoch % 10 === 0 || log.epoch === total || log.epoch === 1) console.log(`  ${tg.formatEpoch(log, total)}`);
    },
    end() {},
  };
}
