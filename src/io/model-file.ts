/**
 * A trained classifier as one safetensors file: the weights under PyTorch's names, and in the
 * header's string metadata what is needed to use them again (the MLP's shape, class names, the
 * input scaling fitted on the training data, the ensemble size). The CLI writes and reads these;
 * a file written by PyTorch (weights only) still loads as an MLP inferred from its keys.
 */
import { scalerFromJSON, type MinMaxScaler, type ScalerState, type StandardScaler } from '../data/transforms.js';
import { Identity, Linear, Sequential } from '../nn/layers.js';
import { type ActivationName, activationLayer, activationNames, mlp, mlpParameterShapes, type MLPSpec } from '../nn/mlp.js';
import { Module } from '../nn/module.js';
import { isRecord, requireKnownOptions } from '../ops/args.js';
import { sameShape, valueStr } from '../shape.js';
import { Ensemble } from '../train/ensemble.js';
import { Tensor } from '../tensor.js';
import { checkPath } from './atomic.js';
import { deserializeAs, readContents, type SafetensorsContents, saveAs, type StateDict } from './safetensors.js';

/** What a model file records besides the weights. */
export interface ModelInfo {
  /** The MLP's shape (for an ensemble, each member's). */
  spec: MLPSpec;
  /** Number of ensemble members (1 for a single model). */
  members: number;
  /** Class names in output order. */
  classes: string[];
  /** The input scaling fitted on the training data, if any. */
  preprocess: ScalerState | null;
  /** Free-form facts about the training run (dataset, label column, accuracy…). */
  extra: Record<string, string>;
}

/** What loadModel() returns: the rebuilt model and its description. */
export interface LoadedModel extends ModelInfo {
  /** The model, in eval mode: a Sequential, or an Ensemble of them. */
  model: Module;
  /** The recorded input scaling, ready to apply (null when none was recorded). */
  scaler: StandardScaler | MinMaxScaler | null;
  /** True when the file had no tensorgrad metadata and the MLP was inferred from its keys. */
  inferred: boolean;
}

const KEY = {
  spec: 'tensorgrad.model',
  members: 'tensorgrad.members',
  classes: 'tensorgrad.classes',
  preprocess: 'tensorgrad.preprocess',
} as const;

/**
 * Saves a model (a Sequential from mlp(), or an Ensemble of them) with its description, atomically.
 * @param model - a Sequential from mlp(), or an Ensemble of them
 * @param path - the file to write
 * @param info - spec, classes, preprocess (a scaler's toJSON()), extra
 * @example
 * ```ts
 * await saveModel(model, 'digits.safetensors', { spec, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], preprocess: null });
 * const { model: loaded, classes } = await loadModel('digits.safetensors');
 * ```
 */
export async function saveModel(
  model: Module,
  path: string,
  info: Omit<ModelInfo, 'members' | 'extra'> & {
    /** Free-form facts about the training run, stored as strings. */
    extra?: Record<string, string>;
  },
): Promise<void> {
  const who = 'saveModel';
  if (!((model as unknown) instanceof Module)) throw new Error(`${who}: model must be a Module (an mlp() or an Ensemble of them), got ${valueStr(model)}`);
  checkPath(who, path);
  if (!isRecord(info)) throw new Error(`${who}: info must be an object { spec, classes, preprocess?, extra? }, got ${valueStr(info)}`);
  // A one-member ensemble is that member (its keys lose the "0." prefix; loadModel gives back an MLP).
  if (model instanceof Ensemble && model.members.length === 1) model = model.members[0]!;
  const members = model instanceof Ensemble ? model.members.length : 1;
  const spec = checkSpec(who, 'info.spec', info.spec);
  checkAgainstSpec(who, model.stateDict(), spec, members);
  const classes: unknown = info.classes;
  if (!Array.isArray(classes) || classes.length !== spec.outputs || !classes.every((c) => typeof c === 'string')) {
    throw new Error(`${who}: classes must list ${spec.outputs} class names (the model has ${spec.outputs} outputs), got ${Array.isArray(classes) ? `${classes.length} values` : valueStr(classes)}`);
  }
  // Checked as loadModel will check it, so a file that saves also loads.
  const preprocess: unknown = info.preprocess ?? null;
  if (preprocess !== null) {
    try {
      scalerFromJSON(preprocess as ScalerState);
    } catch (e) {
      throw new Error(`${who}: info.preprocess is not a scaler state (toJSON() of a fitted scaler): ${(e as Error).message}`);
    }
    const features = (preprocess as ScalerState).shift.length;
    if (features !== spec.inputs) throw new Error(`${who}: info.preprocess scales ${features} features, the model takes ${spec.inputs}`);
  }
  const extra: unknown = info.extra ?? {};
  if (!isRecord(extra)) throw new Error(`${who}: info.extra must be a record of strings, got ${valueStr(extra)}`);
  const metadata: Record<string, string> = {
    format: 'pt',
    [KEY.spec]: JSON.stringify(info.spec),
    [KEY.members]: String(members),
    [KEY.classes]: JSON.stringify(classes),
  };
  if (preprocess !== null) metadata[KEY.preprocess] = JSON.stringify(preprocess);
  for (const [k, v] of Object.entries(extra)) {
    if (typeof v !== 'string') throw new Error(`${who}: info.extra.${k} must be a string, got ${valueStr(v)}`);
    metadata[`tensorgrad.extra.${k}`] = v;
  }
  await saveAs(who, model, path, { metadata });
}

function parseJson(where: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${where}: metadata ${key} is not valid JSON`);
  }
}

/** An MLP description from a file's metadata (`what` = "metadata tensorgrad.model") or from saveModel's info. */
function checkSpec(where: string, what: string, v: unknown): MLPSpec {
  const s = v as Partial<MLPSpec> | null;
  const posInt = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) > 0;
  if (
    s === null ||
    typeof s !== 'object' ||
    !posInt(s.inputs) ||
    !posInt(s.outputs) ||
    !Array.isArray(s.hidden) ||
    !s.hidden.every(posInt) ||
    (s.activation !== undefined && !activationNames.includes(s.activation))
  ) {
    throw new Error(`${where}: ${what} is not an MLP description ({ inputs, hidden, outputs, activation })`);
  }
  const dropout = s.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`${where}: ${what}: dropout must be a number in [0, 1)`);
  return { inputs: s.inputs!, hidden: s.hidden, outputs: s.outputs!, activation: s.activation ?? 'relu', dropout };
}

/**
 * Checks a state dict against the layers `members` copies of mlp(spec) would have — names and
 * shapes — before anything is built, so a file's metadata can never make us allocate more than
 * the file itself holds.
 */
function checkAgainstSpec(where: string, tensors: Record<string, { shape: readonly number[] }>, spec: MLPSpec, members: number): void {
  const names = Object.keys(tensors);
  const perMember = 2 * (spec.hidden.length + 1);
  if (members * perMember !== names.length) {
    throw new Error(`${where}: ${names.length} tensors, but ${members === 1 ? 'the' : `${members} ×`} MLP ${[spec.inputs, ...spec.hidden, spec.outputs].join('-')} has ${members * perMember}`);
  }
  const problems: string[] = [];
  for (let m = 0; m < members && problems.length < 4; m++) {
    for (const [k, shape] of mlpParameterShapes(spec, members === 1 ? '' : `${m}.`)) {
      const t = tensors[k];
      if (t === undefined) problems.push(`missing ${k}`);
      else if (!sameShape(t.shape, shape)) problems.push(`${k} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
      if (problems.length >= 4) break;
    }
  }
  if (problems.length > 0) throw new Error(`${where}: the weights do not fit the recorded model: ${problems.join('; ')}`);
}

const MAX_LAYER_GAP = 4;

/** The activation option of inferMlp/loadModel, checked before any work. */
function checkActivation(who: string, what: string, v: unknown): ActivationName {
  if (v === undefined) return 'relu';
  if (typeof v !== 'string' || !(activationNames as string[]).includes(v)) {
    throw new Error(`${who}: ${what} must be one of ${activationNames.map((a) => `'${a}'`).join(', ')}, got ${valueStr(v)}`);
  }
  return v as ActivationName;
}

/**
 * An MLP rebuilt from weights alone, as torch.nn.Sequential(Linear, act, [Dropout,] Linear, …)
 * names them: Linear layers at the indices that have `<i>.weight` [out, in] (and optionally
 * `<i>.bias`), the activation right after each hidden Linear, Identity for any other index (a
 * Dropout, which does nothing at inference). `file` names the source in errors.
 * @param tensors - a state dict with `<i>.weight` / `<i>.bias` keys
 * @param activation - the activation between layers (default 'relu')
 * @param file - what errors call the source (default 'model')
 */
export function inferMlp(
  tensors: StateDict,
  activation: ActivationName = 'relu',
  file = 'model',
): {
  /** The rebuilt model, with the tensors loaded. */
  model: Sequential;
  /** Its shape. */
  spec: MLPSpec;
} {
  const who = 'inferMlp';
  if (!isRecord(tensors)) throw new Error(`${who}: tensors must be a record of name → Tensor (a state dict), got ${valueStr(tensors)}`);
  const act = checkActivation(who, 'activation', activation);
  if (typeof file !== 'string') throw new Error(`${who}: file must be a string (the name used in errors), got ${valueStr(file)}`);
  return inferFrom(`${who}: ${file}`, tensors, act);
}

/** inferMlp's work, with errors prefixed by `where` ("loadModel: <path>", "inferMlp: model"). */
function inferFrom(where: string, tensors: Record<string, unknown>, activation: ActivationName): { model: Sequential; spec: MLPSpec } {
  const layers = new Map<number, { w: Tensor; b: Tensor | undefined }>();
  for (const [k, t] of Object.entries(tensors)) {
    const m = /^(\d+)\.(weight|bias)$/.exec(k);
    if (!m) throw new Error(`${where}: cannot infer an MLP: unexpected tensor '${k.length > 60 ? `${k.slice(0, 57)}...` : k}' (expected keys like 0.weight, 0.bias, 2.weight, …)`);
    if (!(t instanceof Tensor)) throw new Error(`${where}: ${k} must be a Tensor, got ${valueStr(t)}`);
    t._check(`${where}: ${k}`); // a detached buffer fails here, named, rather than inside loadStateDict
    const i = Number(m[1]);
    const entry = layers.get(i) ?? { w: undefined as unknown as Tensor, b: undefined };
    if (m[2] === 'weight') entry.w = t;
    else entry.b = t;
    layers.set(i, entry);
  }
  const idx = [...layers.keys()].sort((a, b) => a - b);
  if (idx.length === 0) throw new Error(`${where}: cannot infer an MLP: no tensors`);
  // Between two Linear layers a Sequential holds an activation and perhaps a Dropout or a norm:
  // larger gaps are not an MLP (and must not make us build millions of placeholder layers).
  idx.forEach((i, n) => {
    const gap = i - (n === 0 ? -1 : idx[n - 1]!);
    if (gap > MAX_LAYER_GAP) throw new Error(`${where}: cannot infer an MLP: layer index ${i} follows ${n === 0 ? 'the start' : idx[n - 1]} with a gap of ${gap} (at most ${MAX_LAYER_GAP})`);
  });
  const modules: Module[] = [];
  const hidden: number[] = [];
  let inputs = 0;
  let prevOut = -1;
  idx.forEach((i, n) => {
    const { w, b } = layers.get(i)!;
    if (w === undefined) throw new Error(`${where}: ${i}.bias has no ${i}.weight`);
    if (w.ndim !== 2) throw new Error(`${where}: ${i}.weight must be 2-D [out, in], got [${w.shape.join(', ')}]`);
    const [out, inp] = w.shape as [number, number];
    if (b !== undefined && (b.ndim !== 1 || b.shape[0] !== out)) throw new Error(`${where}: ${i}.bias must be [${out}], got [${b.shape.join(', ')}]`);
    if (n === 0) inputs = inp;
    else if (inp !== prevOut) throw new Error(`${where}: ${i}.weight takes ${inp} inputs but the previous layer gives ${prevOut}`);
    if (n > 0) hidden.push(inp);
    while (modules.length < i) modules.push(modules.length === idx[n - 1]! + 1 ? activationLayer(activation) : new Identity());
    const lin = new Linear(inp, out, { bias: b !== undefined });
    const sd: StateDict = { weight: w };
    if (b !== undefined) sd['bias'] = b;
    lin.loadStateDict(sd);
    modules.push(lin);
    prevOut = out;
  });
  return { model: new Sequential(...modules), spec: { inputs, hidden, outputs: prevOut, activation } };
}

/** The model a file describes; `where` ("loadModel: <path>") prefixes every error. */
function fromContents(contents: SafetensorsContents, where: string, activation: ActivationName | undefined): LoadedModel {
  const md = contents.metadata;
  const rawSpec = md[KEY.spec];
  if (rawSpec === undefined) {
    const { model, spec } = inferFrom(where, contents.tensors, activation ?? 'relu');
    const classes = Array.from({ length: spec.outputs }, (_, i) => String(i));
    return { model: model.eval(), spec, members: 1, classes, preprocess: null, scaler: null, extra: {}, inferred: true };
  }
  const spec = checkSpec(where, `metadata ${KEY.spec}`, parseJson(where, KEY.spec, rawSpec));
  const members = Number(md[KEY.members] ?? '1');
  if (!Number.isInteger(members) || members < 1 || members > 1000) throw new Error(`${where}: metadata ${KEY.members} must be an integer in [1, 1000]`);
  checkAgainstSpec(where, contents.tensors, spec, members);
  const classes = md[KEY.classes] === undefined ? Array.from({ length: spec.outputs }, (_, i) => String(i)) : parseJson(where, KEY.classes, md[KEY.classes]!);
  if (!Array.isArray(classes) || classes.length !== spec.outputs || !classes.every((c) => typeof c === 'string')) {
    throw new Error(`${where}: metadata ${KEY.classes} must list ${spec.outputs} class names`);
  }
  const preprocess = md[KEY.preprocess] === undefined ? null : (parseJson(where, KEY.preprocess, md[KEY.preprocess]!) as ScalerState);
  let scaler: StandardScaler | MinMaxScaler | null = null;
  if (preprocess !== null) {
    try {
      scaler = scalerFromJSON(preprocess);
    } catch (e) {
      throw new Error(`${where}: metadata ${KEY.preprocess}: ${(e as Error).message}`);
    }
    if (preprocess.shift.length !== spec.inputs) throw new Error(`${where}: the recorded scaling has ${preprocess.shift.length} features, the model takes ${spec.inputs}`);
  }
  const model: Module = members === 1 ? mlp(spec) : new Ensemble(Array.from({ length: members }, () => mlp(spec)));
  model.loadStateDict(contents.tensors);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(md)) if (k.startsWith('tensorgrad.extra.')) extra[k.slice('tensorgrad.extra.'.length)] = v;
  return { model: model.eval(), spec, members, classes: classes as string[], preprocess, scaler, extra, inferred: false };
}

/**
 * Loads a model file written by saveModel (or a PyTorch MLP's safetensors, inferred from its keys).
 * @param path - the file
 * @param options - activation (for files without tensorgrad metadata)
 * @example
 * ```ts
 * const { model, classes, scaler } = await loadModel('digits.safetensors');
 * const x = scaler ? scaler.transform(input) : input;
 * const label = classes[predict(model, x).argmax(1).item()];
 * ```
 */
export async function loadModel(
  path: string,
  options: {
    /** The activation between layers of an inferred MLP (a file without tensorgrad metadata); default 'relu'. */
    activation?: ActivationName;
  } = {},
): Promise<LoadedModel> {
  const who = 'loadModel';
  checkPath(who, path);
  const o = requireKnownOptions(who, options, ['activation']);
  const activation = o['activation'] === undefined ? undefined : checkActivation(who, 'options.activation', o['activation']);
  return fromContents(await readContents(who, path), `${who}: ${path}`, activation);
}

/**
 * loadModel from bytes already in memory; `options.name` names the source in errors.
 * @param bytes - the file's bytes
 * @param options - activation, name
 */
export function loadModelFromBuffer(
  bytes: Uint8Array,
  options: {
    /** The activation between layers of an inferred MLP (a file without tensorgrad metadata); default 'relu'. */
    activation?: ActivationName;
    /** What errors call the bytes (default 'model'). */
    name?: string;
  } = {},
): LoadedModel {
  const who = 'loadModelFromBuffer';
  const o = requireKnownOptions(who, options, ['activation', 'name']);
  const activation = o['activation'] === undefined ? undefined : checkActivation(who, 'options.activation', o['activation']);
  const name = o['name'] ?? 'model';
  if (typeof name !== 'string') throw new Error(`${who}: options.name must be a string, got ${valueStr(name)}`);
  return fromContents(deserializeAs(who, bytes, name), `${who}: ${name}`, activation);
}
