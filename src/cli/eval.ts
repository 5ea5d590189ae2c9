import { noGrad } from '../autograd.js';
import { backendInfo } from '../backend/index.js';
import { TensorDataset } from '../data/dataset.js';
import { loadModel, type LoadedModel } from '../io/model-file.js';
import { activationNames, type ActivationName } from '../nn/mlp.js';
import { Ensemble } from '../train/ensemble.js';
import { evaluate, predict } from '../train/evaluate.js';
import type { Tensor } from '../tensor.js';
import { alignClasses, type InputColumns, loadEvalData, loadInputs } from './data.js';
import { choiceFlag, type FlagTable, helpText, parseFlags, UsageError } from './flags.js';

const MODEL_FLAGS: FlagTable = {
  model: { type: 'string', value: '<model.safetensors>', help: 'a model saved by `tensorgrad train --save` (or a PyTorch MLP state dict as safetensors)' },
  activation: { type: 'string', default: 'relu', value: `<${activationNames.join('|')}>`, help: 'for a file without tensorgrad metadata: the activation between its Linear layers' },
};

export const EVAL_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  data: { type: 'string', default: 'digits', value: '<name|dir|file.csv>', help: "labelled data: 'digits' / 'fashion-mnist' / an IDX folder (their test split), or a CSV file" },
  'label-column': { type: 'string', value: '<name|index>', help: 'CSV: the class column (default: the one recorded at training, else "label")' },
};

export const PREDICT_FLAGS: FlagTable = {
  ...MODEL_FLAGS,
  input: { type: 'string', value: '<file.csv|images.idx>', help: 'rows to classify: a CSV of feature columns (a label column, if present, is ignored) or an IDX images file' },
  probabilities: { type: 'boolean', help: 'print each class probability after the predicted class' },
};

export const EVAL_HELP = helpText('tensorgrad eval --model m.safetensors [--data …]', "Prints a saved model's test accuracy and confusion matrix.", EVAL_FLAGS);
export const PREDICT_HELP = helpText(
  'tensorgrad predict --model m.safetensors --input rows.csv',
  'Prints one prediction per input row: the class name (with --probabilities, then each class probability).',
  PREDICT_FLAGS,
);

function inputColumns(m: LoadedModel, file: string, labelColumn: string | undefined): InputColumns {
  let features: string[] | undefined;
  if (m.extra['features'] !== undefined) {
    let f: unknown;
    try {
      f = JSON.parse(m.extra['features']);
    } catch {
      f = null;
    }
    if (!Array.isArray(f) || f.length !== m.spec.inputs || !f.every((n) => typeof n === 'string')) {
      throw new Error(`${file}: metadata tensorgrad.extra.features must list the model's ${m.spec.inputs} input column names`);
    }
    features = f;
  }
  return { classes: m.classes, labelColumn: labelColumn ?? m.extra['labelColumn'], features };
}

async function open(f: Record<string, string | boolean | undefined>): Promise<LoadedModel> {
  const path = f['model'];
  if (typeof path !== 'string' || path === '') throw new UsageError('--model <file> is required');
  const activation = choiceFlag('activation', f['activation'], activationNames) as ActivationName;
  return loadModel(path, { activation });
}

function prepare(m: LoadedModel, x: Tensor, what: string): Tensor {
  if (x.shape[1] !== m.spec.inputs) {
    const hint = m.extra['features'] === undefined ? " (the model has no recorded column names: give exactly its input columns, plus an optional 'label' column)" : '';
    throw new Error(`${what} has ${x.shape[1]} features per row, the model takes ${m.spec.inputs}${hint}`);
  }
  return m.scaler ? m.scaler.transform(x) : x;
}

/** `tensorgrad eval`: accuracy and confusion matrix of a saved model. */
export async function evalCommand(argv: string[], out: NodeJS.WriteStream): Promise<number> {
  const f = parseFlags(EVAL_FLAGS, argv);
  if (f['help']) {
    out.write(EVAL_HELP);
    return 0;
  }
  const m = await open(f);
  const info = backendInfo();
  out.write(`tensorgrad: ${info.backend} backend, ${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'}\n`);
  if (m.inferred) out.write(`model: no tensorgrad metadata; inferred MLP ${[m.spec.inputs, ...m.spec.hidden, m.spec.outputs].join('-')} with ${m.spec.activation}\n`);
  const raw = loadEvalData(String(f['data']), inputColumns(m, String(f['model']), f['label-column'] as string | undefined));
  const x = prepare(m, raw.x, String(f['data']));
  const data = alignClasses(raw, m.classes, String(f['data']));
  const set = new TensorDataset(x, data.y);
  const opts = { confusionMatrix: true, classNames: m.classes };
  if (m.model instanceof Ensemble) {
    const r = await m.model.evaluate(set, opts);
    r.members.forEach((mr, i) => out.write(`member ${i + 1} accuracy: ${(mr.metrics['accuracy']! * 100).toFixed(2)}%\n`));
    out.write(`ensemble of ${r.members.length} accuracy: ${(r.metrics['accuracy']! * 100).toFixed(2)}% (loss ${r.loss.toFixed(4)}, ${r.samples} samples)\n\n`);
    out.write(`${r.confusionMatrix!.toString()}\n`);
  } else {
    const r = await evaluate(m.model, set, opts);
    out.write(`accuracy: ${(r.metrics['accuracy']! * 100).toFixed(2)}% (loss ${r.loss.toFixed(4)}, ${r.samples} samples)\n\n`);
    out.write(`${r.confusionMatrix!.toString()}\n`);
  }
  return 0;
}

/** RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** `tensorgrad predict`: one line per input row. */
export async function predictCommand(argv: string[], out: NodeJS.WriteStream): Promise<number> {
  const f = parseFlags(PREDICT_FLAGS, argv);
  if (f['help']) {
    out.write(PREDICT_HELP);
    return 0;
  }
  const input = f['input'];
  if (typeof input !== 'string' || input === '') throw new UsageError('--input <file> is required');
  const m = await open(f);
  const x = prepare(m, loadInputs(input, inputColumns(m, String(f['model']), undefined)), input);
  const probs = noGrad(() => predict(m.model, x).softmax(-1));
  const cls = noGrad(() => probs.argmax(1));
  const c = m.classes.length;
  const lines: string[] = [];
  for (let i = 0; i < cls.size; i++) {
    const name = m.classes[cls.data[i]!]!;
    if (f['probabilities']) {
      const p = Array.from(probs.data.subarray(i * c, (i + 1) * c), (v) => v.toFixed(4));
      lines.push(`${csvField(name)},${p.join(',')}`);
    } else {
      lines.push(csvField(name));
    }
  }
  if (f['probabilities']) out.write(`class,${m.classes.map(csvField).join(',')}\n`);
  out.write(`${lines.join('\n')}\n`);
  return 0;
}
