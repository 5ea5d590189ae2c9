// One hidden layer is enough to approximate any continuous function on an interval, given enough
// units (the universal approximation theorem); the catch is "enough". Here the same MLP shape, at
// growing widths, fits sin(x) plus a unit step at 0: each tanh unit adds one smooth S-shaped step to
// place, so more units mean a closer fit, and the step (not continuous at all) is the last to come.
//
//   node examples/universal-approximation.mjs [chart.svg]
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tg from 'tensorgrad';

const svgPath = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'out', 'universal-approximation.svg');
const WIDTHS = [2, 8, 32, 128];
const target = (x) => Math.sin(x) + (x > 0 ? 1 : 0);

tg.manualSeed(0);
// Training inputs drawn at random; the error is measured on an even grid, so it covers the gaps too.
// The grid has an even number of points, so none sits exactly on the jump at 0.
const N = 512;
const xTrain = tg.rand([N, 1]).mul(2 * Math.PI).sub(Math.PI);
const yTrain = new tg.Tensor(xTrain.data.map(target), [N, 1]);
const G = 400;
const xGrid = tg.arange(G).mul((2 * Math.PI) / (G - 1)).sub(Math.PI).reshape(G, 1);
const yGrid = new tg.Tensor(xGrid.data.map(target), [G, 1]);

const predictions = {};
const errors = [];
for (const width of WIDTHS) {
  tg.manualSeed(1); // every width starts from the same random stream
  const model = tg.mlp({ inputs: 1, hidden: [width], outputs: 1, activation: 'tanh' });
  const train = new tg.DataLoader(new tg.TensorDataset(xTrain, yTrain), { batchSize: 32, shuffle: true });
  // A sharp step needs large first-layer weights, which take many steps to grow; the cosine decay
  // then lets the fit settle instead of rattling around the jump.
  const optimizer = new tg.Adam(model.parameters(), { lr: 0.03 });
  const epochs = 600;
  await tg.fit(model, {
    train, epochs, optimizer, loss: 'mse', progress: 'none',
    scheduler: new tg.CosineAnnealingLR(optimizer, { tMax: epochs }),
  });
  const pred = tg.predict(model, xGrid);
  const mse = tg.mseLoss(pred, yGrid).item();
  errors.push(mse);
  predictions[`${width} units (MSE ${mse.toFixed(4)})`] = pred.data;
  console.log(`hidden units ${String(width).padStart(4)}: MSE on the grid ${mse.toFixed(5)}`);
}

const svg = tg.functionChart(
  // The 512 training points are left out: drawn, they would only thicken the target line.
  { x: xGrid.data, target: yGrid.data, predictions },
  { title: 'One hidden layer of tanh units fitting sin(x) + step(x)', xLabel: 'x', yLabel: 'y' },
);
mkdirSync(dirname(svgPath), { recursive: true });
tg.writeSvg(svgPath, svg);
console.log(`chart written to ${svgPath}`);

for (let i = 1; i < errors.length; i++) {
  if (!(errors[i] < errors[i - 1])) {
    throw new Error(`universal-approximation: MSE did not fall from ${WIDTHS[i - 1]} to ${WIDTHS[i]} units (${errors[i - 1]} → ${errors[i]})`);
  }
}
