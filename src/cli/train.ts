import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { backendInfo, setNumThreads } from '../backend/index.js';
import { TensorDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { MixUp } from '../data/mixup.js';
import { MinMaxScaler, StandardScaler } from '../data/transforms.js';
import { saveModel } from '../io/model-file.js';
import { type ActivationName, activationNames, mlp, type MLPSpec } from '../nn/mlp.js';
import type { Module } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import { CosineAnnealingLR, OneCycleLR } from '../optim/lr_scheduler.js';
import { RMSprop } from '../optim/rmsprop.js';
import { SGD } from '../optim/sgd.js';
import { Generator, manualSeed } from '../random.js';
import { Ensemble } from '../train/ensemble.js';
import { evaluate } from '../train/evaluate.js';
import { fit, type FitOptions, type History, type OptimizerLike, type SchedulerLike } from '../train/fit.js';
import { historyChart, writeSvg } from '../train/plot.js';
import { holdOut, loadTrainTest, type LabelledData } from './data.js';
import { choiceFlag, type FlagTable, helpText, numberFlag, parseFlags, UsageError } from './flags.js';

const OPTIMIZERS = ['adamw', 'adam', 'sgd', 'rmsprop'] as const;
const SCHEDULES = ['cosine', 'onecycle', 'none'] as const;
const NORMALIZE = ['auto', 'standard', 'minmax', 'none'] as const;

export const TRAIN_FLAGS: FlagTable = {
  data: { type: 'string', default: 'digits', value: '<name|dir|file.csv>', help: "'digits' (embedded), 'fashion-mnist' (Debian's dataset-fashion-mnist), a folder of MNIST-layout IDX files, or a CSV file" },
  'label-column': { type: 'string', value: '<name|index>', help: "CSV: the column holding the class (default: 'label')" },
  'ignore-columns': { type: 'string', value: '<a,b,…>', help: 'CSV: columns that are not features (e.g. an id)' },
  'test-data': { type: 'string', value: '<file.csv>', help: 'CSV: a separate test file (otherwise --test-split of --data is held out)' },
  'test-split': { type: 'string', default: '0.2', value: '<fraction>', help: 'CSV without --test-data: share of rows held out for testing' },
  'validation-split': { type: 'string', default: '0', value: '<fraction>', help: 'share of the training rows held out for validation after each epoch' },
  normalize: { type: 'string', default: 'auto', value: '<auto|standard|minmax|none>', help: "input scaling fitted on the training rows; 'auto': standard for CSV, none for images (already in [0, 1])" },
  hidden: { type: 'string', default: '512,256', value: '<w1,w2,…>', help: "hidden layer widths ('' for a linear model)" },
  activation: { type: 'string', default: 'relu', value: `<${activationNames.join('|')}>`, help: 'activation after each hidden layer' },
  dropout: { type: 'string', default: '0', value: '<p>', help: 'dropout probability after each hidden activation' },
  epochs: { type: 'string', default: '10', value: '<n>', help: 'training epochs' },
  'batch-size': { type: 'string', default: '64', value: '<n>', help: 'samples per step' },
  optimizer: { type: 'string', default: 'adamw', value: `<${OPTIMIZERS.join('|')}>`, help: 'optimizer' },
  lr: { type: 'string', default: '0.001', value: '<rate>', help: 'learning rate (peak rate for onecycle)' },
  momentum: { type: 'string', default: '0.9', value: '<m>', help: 'SGD/RMSprop momentum' },
  'weight-decay': { type: 'string', value: '<wd>', help: 'weight decay (default: 0.01 for adamw, 0 otherwise)' },
  schedule: { type: 'string', default: 'cosine', value: `<${SCHEDULES.join('|')}>`, help: 'learning-rate schedule over the run' },
  mixup: { type: 'string', default: '0', value: '<alpha>', help: 'MixUp with λ ~ Beta(alpha, alpha); 0 turns it off' },
  ensemble: { type: 'string', default: '1', value: '<n>', help: 'train n models with seeds seed..seed+n-1 and average their probabilities' },
  'early-stopping': { type: 'string', default: '0', value: '<patience>', help: 'stop after this many epochs without a better validation loss (needs --validation-split); 0: off' },
  seed: { type: 'string', default: '0', value: '<n>', help: 'seed for initialisation, shuffling, dropout and MixUp' },
  threads: { type: 'string', value: '<n>', help: 'kernel threads: the native pool, or the TypeScript backend\'s GEMM workers (default: all cores)' },
  limit: { type: 'string', value: '<n>', help: 'use only the first n training rows (quick runs)' },
  save: { type: 'string', value: '<model.safetensors>', help: 'write the trained model (weights + description) here; missing folders are created' },
  plot: { type: 'string', value: '<curve.svg>', help: 'write the loss/accuracy curves here; missing folders are created' },
  progress: { type: 'string', default: 'auto', value: '<auto|bar|lines|none>', help: "progress display ('auto': a bar on a terminal, a line per epoch otherwise)" },
};

export const TRAIN_HELP = helpText(
  'tensorgrad train [options]',
  'Trains an MLP classifier, prints the backend, progress and the test accuracy, and optionally\nsaves the model (safetensors) and a chart of the training curves (SVG).',
  TRAIN_FLAGS,
);

function hiddenFlag(v: string): number[] {
  if (v.trim() === '') return [];
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1 || n > 65536) throw new UsageError(`--hidden must be comma-separated positive integers, got '${v}'`);
    return n;
  });
}

function makeOptimizer(name: (typeof OPTIMIZERS)[number], lr: number, momentum: number, wd: number | undefined): (m: Module) => OptimizerLike {
  return (m) => {
    const params = m.parameters();
    switch (name) {
      case 'adamw':
        return new AdamW(params, { lr, weightDecay: wd ?? 0.01 });
      case 'adam':
        return new Adam(params, { lr, weightDecay: wd ?? 0 });
      case 'sgd':
        return new SGD(params, { lr, momentum, weightDecay: wd ?? 0 });
      case 'rmsprop':
        return new RMSprop(params, { lr, momentum, weightDecay: wd ?? 0 });
    }
  };
}

function pct(v: number): string {
  return `${(v * 100).toFixed(2)}%`;
}

/** `tensorgrad train`: returns the exit code. */
export async function trainCommand(argv: string[], out: NodeJS.WriteStream): Promise<number> {
  const f = parseFlags(TRAIN_FLAGS, argv);
  if (f['help']) {
    out.write(TRAIN_HELP);
    return 0;
  }
  const epochs = numberFlag('epochs', f['epochs'], { min: 1, max: 100000, integer: true });
  const batchSize = numberFlag('batch-size', f['batch-size'], { min: 1, max: 1 << 20, integer: true });
  const lr = numberFlag('lr', f['lr'], { min: Number.MIN_VALUE, max: 100 });
  const momentum = numberFlag('momentum', f['momentum'], { min: 0, max: 1 });
  const wd = f['weight-decay'] === undefined ? undefined : numberFlag('weight-decay', f['weight-decay'], { min: 0, max: 10 });
  const dropout = numberFlag('dropout', f['dropout'], { min: 0, max: 0.99 });
  const mixupAlpha = numberFlag('mixup', f['mixup'], { min: 0, max: 100 });
  const members = numberFlag('ensemble', f['ensemble'], { min: 1, max: 100, integer: true });
  const patience = numberFlag('early-stopping', f['early-stopping'], { min: 0, max: 100000, integer: true });
  const seed = numberFlag('seed', f['seed'], { min: 0, max: 2 ** 53 - 1, integer: true });
  const testSplit = numberFlag('test-split', f['test-split'], { min: 0, max: 0.99 });
  const valSplit = numberFlag('validation-split', f['validation-split'], { min: 0, max: 0.9 });
  const hidden = hiddenFlag(String(f['hidden']));
  const activation = choiceFlag('activation', f['activation'], activationNames) as ActivationName;
  const optName = choiceFlag('optimizer', f['optimizer'], OPTIMIZERS);
  const schedule = choiceFlag('schedule', f['schedule'], SCHEDULES);
  const normalize = choiceFlag('normalize', f['normalize'], NORMALIZE);
  const progress = choiceFlag('progress', f['progress'], ['auto', 'bar', 'lines', 'none'] as const);
  const limit = f['limit'] === undefined ? undefined : numberFlag('limit', f['limit'], { min: 1, integer: true });
  if (patience > 0 && valSplit === 0) throw new UsageError('--early-stopping needs a --validation-split to watch');
  const csvOnly = ['label-column', 'ignore-columns', 'test-data'].filter((k) => f[k] !== undefined);
  const dataSpec = String(f['data']);
  if (csvOnly.length > 0 && !/\.(csv|tsv|txt)$/i.test(dataSpec)) throw new UsageError(`--${csvOnly[0]} applies to CSV data only, not --data ${dataSpec}`);
  for (const key of ['save', 'plot'] as const) {
    const target = f[key] as string | undefined;
    if (target === undefined) continue;
    // Found out now, not after the training it would waste.
    if (existsSync(target) && statSync(target).isDirectory()) throw new UsageError(`--${key} ${target} is a folder; give a file name`);
    mkdirSync(dirname(target) || '.', { recursive: true });
  }
  if (f['threads'] !== undefined) setNumThreads(numberFlag('threads', f['threads'], { min: 1, max: 1024, integer: true }));

  const info = backendInfo();
  out.write(`tensorgrad: ${info.backend} backend, ${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'}\n`);

  const labelColumn = f['label-column'] as string | undefined;
  const ignoreColumns = f['ignore-columns'] === undefined ? [] : String(f['ignore-columns']).split(',').map((c) => c.trim()).filter((c) => c !== '');
  const data = loadTrainTest(dataSpec, { labelColumn, ignoreColumns, testData: f['test-data'] as string | undefined, testSplit, seed });
  let train: LabelledData = data.train;
  if (limit !== undefined && limit < train.x.shape[0]!) train = { ...train, x: train.x.slice(0, limit), y: train.y.slice(0, limit) };
  const classes = data.train.classes;
  if (classes.length < 2) throw new Error(`the training data has ${classes.length} class; a classifier needs at least 2`);

  // Validation rows are split off first, so the scaling is fitted on the rows trained on, and
  // applied unchanged to validation and test rows.
  const [fitRows, valRows] = valSplit > 0 ? holdOut(train, valSplit, seed + 1, 'validation-split', 'validation') : [train, undefined];
  let xFit = fitRows.x;
  const yFit = fitRows.y;
  let xVal = valRows?.x;
  const yVal = valRows?.y;
  const scaling = normalize === 'auto' ? (train.kind === 'table' ? 'standard' : 'none') : normalize;
  const scaler = scaling === 'standard' ? new StandardScaler() : scaling === 'minmax' ? new MinMaxScaler() : null;
  let xTest = data.test.x;
  if (scaler !== null) {
    xFit = scaler.fitTransform(xFit);
    if (xVal !== undefined) xVal = scaler.transform(xVal);
    xTest = scaler.transform(xTest);
  }
  const trainSet = new TensorDataset(xFit, yFit);
  const validation = xVal !== undefined && yVal !== undefined ? new TensorDataset(xVal, yVal) : undefined;
  const testSet = new TensorDataset(xTest, data.test.y);
  const spec: MLPSpec = { inputs: xFit.shape[1]!, hidden, outputs: classes.length, activation, dropout };
  const params = mlp(spec).parameters().reduce((s, p) => s + p.size, 0);
  out.write(
    `data: ${train.name}: ${trainSet.length} training rows${validation ? `, ${validation.length} validation` : ''}, ${testSet.length} test, ${spec.inputs} features, ${classes.length} classes\n` +
      `model: MLP ${[spec.inputs, ...hidden, spec.outputs].join('-')} (${activation}${dropout > 0 ? `, dropout ${dropout}` : ''}), ${params.toLocaleString('en-US')} parameters${members > 1 ? ` × ${members} members` : ''}\n` +
      `training: ${optName} lr ${lr}, ${schedule} schedule, batch ${batchSize}, ${epochs} epoch${epochs === 1 ? '' : 's'}${mixupAlpha > 0 ? `, MixUp α=${mixupAlpha}` : ''}, seed ${seed}\n`,
  );

  const loaderGen = new Generator(seed + 2);
  const loader = new DataLoader(trainSet, { batchSize, shuffle: true, generator: loaderGen });
  const options: FitOptions = {
    train: loader,
    epochs,
    optimizer: makeOptimizer(optName, lr, momentum, wd),
    progress,
    progressStream: out,
  };
  if (validation !== undefined) options.validation = new DataLoader(validation, { batchSize: 512 });
  if (schedule !== 'none') {
    options.scheduler = (o: OptimizerLike, steps: number): SchedulerLike =>
      schedule === 'cosine' ? new CosineAnnealingLR(o, { tMax: epochs }) : new OneCycleLR(o, { maxLr: lr, totalSteps: steps * epochs });
  }
  if (mixupAlpha > 0) options.batchTransform = new MixUp({ alpha: mixupAlpha, numClasses: classes.length, generator: new Generator(seed + 3) });
  if (patience > 0) {
    options.earlyStopping = { monitor: 'valLoss', patience };
    options.restoreBest = true;
  }

  let model: Module;
  const histories: History[] = [];
  if (members === 1) {
    manualSeed(seed);
    model = mlp(spec);
    histories.push(await fit(model, options));
  } else {
    const r = await Ensemble.train(members, () => mlp(spec), {
      ...options,
      seed,
      onMemberEnd: async (i, h) => {
        const last = h.epochs.at(-1);
        out.write(`member ${i + 1}/${members} done${last ? `: train loss ${last.loss.toFixed(4)}` : ''}\n`);
      },
    });
    model = r.ensemble;
    histories.push(...r.histories);
  }

  const result = model instanceof Ensemble ? await model.evaluate(testSet) : { ...(await evaluate(model, testSet)), members: [] };
  if (result.members.length > 0) {
    result.members.forEach((m, i) => out.write(`member ${i + 1} test accuracy: ${pct(m.metrics['accuracy']!)}\n`));
    out.write(`ensemble of ${members} test accuracy: ${pct(result.metrics['accuracy']!)} (loss ${result.loss.toFixed(4)})\n`);
  } else {
    out.write(`test accuracy: ${pct(result.metrics['accuracy']!)} (loss ${result.loss.toFixed(4)}, ${result.samples} samples)\n`);
  }

  const savePath = f['save'] as string | undefined;
  if (savePath !== undefined) {
    const extra: Record<string, string> = { dataset: train.name, testAccuracy: String(result.metrics['accuracy']) };
    if (train.labelColumn !== undefined) extra['labelColumn'] = train.labelColumn;
    if (train.features !== undefined) extra['features'] = JSON.stringify(train.features);
    await saveModel(model, savePath, { spec, classes, preprocess: scaler?.toJSON() ?? null, extra });
    out.write(`saved model to ${savePath}\n`);
  }
  const plotPath = f['plot'] as string | undefined;
  if (plotPath !== undefined) {
    const title = `${train.name}: MLP ${[spec.inputs, ...hidden, spec.outputs].join('-')}${members > 1 ? ` (member 1 of ${members})` : ''}`;
    writeSvg(plotPath, historyChart(histories[0]!, { title }));
    out.write(`saved training curves to ${plotPath}\n`);
  }
  return 0;
}
