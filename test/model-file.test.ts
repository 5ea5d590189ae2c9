import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  Ensemble,
  Flatten,
  Linear,
  StandardScaler,
  deserialize,
  inferMlp,
  loadModel,
  loadModelFromBuffer,
  manualSeed,
  mlp,
  noGrad,
  predict,
  randn,
  saveModel,
  saveSync,
  serialize,
  summary,
  tensor,
} from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tg-model-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeBackends('model files', () => {
  it('round-trip an MLP with its description, classes and input scaling', async () => {
    manualSeed(1);
    const spec = { inputs: 4, hidden: [6, 5], outputs: 3, activation: 'tanh' as const, dropout: 0.1 };
    const model = mlp(spec);
    const scaler = new StandardScaler().fit(randn([20, 4]).mul(3).add(1));
    const path = join(dir, 'mlp.safetensors');
    await saveModel(model, path, { spec, classes: ['a', 'b', 'c'], preprocess: scaler.toJSON(), extra: { dataset: 'unit' } });
    const m = await loadModel(path);
    expect(m.inferred).toBe(false);
    expect(m.spec).toEqual(spec);
    expect(m.classes).toEqual(['a', 'b', 'c']);
    expect(m.extra).toEqual({ dataset: 'unit' });
    expect(m.model.training).toBe(false);
    const x = randn([7, 4]);
    const want = predict(model, scaler.transform(x));
    expect(Array.from(predict(m.model, m.scaler!.transform(x)).data)).toEqual(Array.from(want.data));
    // PyTorch's names and the metadata are in the file as plain safetensors.
    const raw = deserialize(serialize(model));
    expect(Object.keys(raw.tensors).sort()).toEqual(['0.bias', '0.weight', '3.bias', '3.weight', '6.bias', '6.weight']);
  });

  it('round-trip an ensemble', async () => {
    const spec = { inputs: 3, hidden: [4], outputs: 2 };
    const ens = new Ensemble([mlp(spec), mlp(spec), mlp(spec)]);
    const path = join(dir, 'ens.safetensors');
    await saveModel(ens, path, { spec, classes: ['no', 'yes'], preprocess: null });
    const m = await loadModel(path);
    expect(m.members).toBe(3);
    expect(m.model).toBeInstanceOf(Ensemble);
    const x = randn([5, 3]);
    expect(Array.from(noGrad(() => (m.model as Ensemble).predictProba(x)).data)).toEqual(Array.from(noGrad(() => ens.predictProba(x)).data));
    // A one-member ensemble saves as its member.
    const one = join(dir, 'one.safetensors');
    await saveModel(new Ensemble([ens.members[0]!]), one, { spec, classes: ['no', 'yes'], preprocess: null });
    const m1 = await loadModel(one);
    expect(m1.members).toBe(1);
    expect(Array.from(predict(m1.model, x).data)).toEqual(Array.from(predict(ens.members[0]!, x).data));
  });

  it('infers an MLP from PyTorch-style weights with no metadata', () => {
    // torch.nn.Sequential(Linear(3, 4), ReLU(), Dropout(), Linear(4, 2)) names its weights 0.* and 3.*.
    const w0 = tensor([
      [1, 0, -1],
      [0.5, 0.5, 0.5],
      [-1, 2, 0],
      [0, 0, 1],
    ]);
    const b0 = tensor([0, -1, 0.5, 0]);
    const w3 = tensor([
      [1, -1, 0.5, 2],
      [0, 1, 1, -1],
    ]);
    const b3 = tensor([0.25, -0.25]);
    const bytes = serialize({ '0.weight': w0, '0.bias': b0, '3.weight': w3, '3.bias': b3 });
    const m = loadModelFromBuffer(bytes, { name: 'torch.safetensors' });
    expect(m.inferred).toBe(true);
    expect(m.spec).toEqual({ inputs: 3, hidden: [4], outputs: 2, activation: 'relu' });
    const x = tensor([
      [1, 2, 3],
      [-1, 0.5, 2],
    ]);
    const expected = noGrad(() => x.matmul(w0.T).add(b0).relu().matmul(w3.T).add(b3));
    expect(Array.from(predict(m.model, x).data)).toEqual(Array.from(expected.data));
    expect(Object.keys(m.model.stateDict())).toEqual(['0.weight', '0.bias', '3.weight', '3.bias']);
  });

  it('refuses weights that do not form an MLP, or do not fit the recorded one', async () => {
    expect(() => inferMlp({ 'fc.weight': tensor([[1]]) })).toThrow(/unexpected tensor 'fc.weight'/);
    expect(() => inferMlp({ '0.weight': tensor([[1, 2]]), '2.weight': tensor([[1, 2]]) })).toThrow(/2.weight takes 2 inputs but the previous layer gives 1/);
    const spec = { inputs: 3, hidden: [4], outputs: 2 };
    const other = mlp({ inputs: 3, hidden: [5], outputs: 2 });
    const bytes = serialize(other, {
      metadata: { 'tensorgrad.model': JSON.stringify(spec), 'tensorgrad.members': '1', 'tensorgrad.classes': '["a","b"]' },
    });
    expect(() => loadModelFromBuffer(bytes, { name: 'bad.safetensors' })).toThrow(/bad.safetensors: the weights do not fit the recorded model: 0.weight is \[5, 3\], expected \[4, 3\]/);
    const garbage = serialize(other, { metadata: { 'tensorgrad.model': '{not json' } });
    expect(() => loadModelFromBuffer(garbage, { name: 'g' })).toThrow(/metadata tensorgrad.model is not valid JSON/);
    // Metadata and keys come from the file: they are checked against the tensors before anything is built.
    const md = (spec2: object, members = '1') => ({ metadata: { 'tensorgrad.model': JSON.stringify(spec2), 'tensorgrad.members': members } });
    const small = mlp(spec);
    const t0 = performance.now();
    expect(() => loadModelFromBuffer(serialize(small, md({ inputs: 3, hidden: [30000, 30000], outputs: 2 })))).toThrow(/4 tensors, but the MLP 3-30000-30000-2 has 6/);
    expect(() => loadModelFromBuffer(serialize(small, md({ inputs: 100000, hidden: [100000], outputs: 2 })))).toThrow(/0.weight is \[4, 3\], expected \[100000, 100000\]/);
    expect(() => loadModelFromBuffer(serialize(small, md(spec, '1000')))).toThrow(/4 tensors, but 1000 × MLP 3-4-2 has 4000/);
    expect(() => loadModelFromBuffer(serialize(small, md(spec, '1e9')))).toThrow(/members must be an integer in \[1, 1000\]/);
    expect(() => inferMlp({ '0.weight': tensor([[1]]), '4000000000.weight': tensor([[1]]) })).toThrow(/layer index 4000000000 follows 0 with a gap of 4000000000/);
    expect(performance.now() - t0).toBeLessThan(5000);
    const wrongClasses = serialize(mlp(spec), { metadata: { 'tensorgrad.model': JSON.stringify(spec), 'tensorgrad.classes': '["only one"]' } });
    expect(() => loadModelFromBuffer(wrongClasses)).toThrow(/must list 2 class names/);
    // saveModel refuses a description that does not match the model, instead of writing a file loadModel would refuse.
    const path = join(dir, 'never.safetensors');
    await expect(saveModel(small, path, { spec: { inputs: 3, hidden: [5], outputs: 2 }, classes: ['a', 'b'], preprocess: null })).rejects.toThrow(/saveModel: the weights do not fit/);
    await expect(saveModel(small, path, { spec, classes: ['a', 'b', 'c'], preprocess: null })).rejects.toThrow(/classes must list 2 class names/);
  });
});

/** Bad arguments as a JavaScript caller (or a bug) would pass them, past the type checker. */
const junk = (v: unknown) => v as never;

describeBackends('model file arguments: errors name the function the user called', () => {
  const spec = { inputs: 3, hidden: [4], outputs: 2 };

  it('loadModel and loadModelFromBuffer check their arguments first and name themselves in file errors', async () => {
    await expect(loadModel(junk(NaN))).rejects.toThrow('loadModel: path must be a non-empty string, got NaN');
    await expect(loadModel(junk({ data: [] }))).rejects.toThrow('loadModel: path must be a non-empty string, got Object');
    // The activation is checked before the (missing) file is read.
    await expect(loadModel('no-such-file', { activation: junk('bogus') })).rejects.toThrow(
      "loadModel: options.activation must be one of 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', got string 'bogus'",
    );
    await expect(loadModel('no-such-file', junk(-1))).rejects.toThrow('loadModel: options must be an object, got -1');
    const missing = join(dir, 'missing', 'm.safetensors');
    await expect(loadModel(missing)).rejects.toThrow(`loadModel: ${missing}: cannot read: ENOENT`);
    const notModel = join(dir, 'linear.safetensors');
    await saveModel(mlp(spec), join(dir, 'ok.safetensors'), { spec, classes: ['a', 'b'], preprocess: null });
    saveSync(new Linear(3, 2), notModel);
    await expect(loadModel(notModel)).rejects.toThrow(`loadModel: ${notModel}: cannot infer an MLP: unexpected tensor 'bias'`);
    expect(() => loadModelFromBuffer(new Uint8Array(6))).toThrow('loadModelFromBuffer: model: file is 6 bytes, too short for the 8-byte header length');
    expect(() => loadModelFromBuffer(junk('bytes'))).toThrow('loadModelFromBuffer: model: expected a Uint8Array or Buffer, got string');
    expect(() => loadModelFromBuffer(serialize(new Linear(3, 2)), { name: 'lin' })).toThrow("loadModelFromBuffer: lin: cannot infer an MLP: unexpected tensor 'bias'");
    expect(() => loadModelFromBuffer(serialize(mlp(spec)), { activation: junk(NaN) })).toThrow(/^loadModelFromBuffer: options\.activation must be one of .*, got NaN$/);
    expect(() => loadModelFromBuffer(serialize(mlp(spec)), junk(Infinity))).toThrow('loadModelFromBuffer: options must be an object, got Infinity');
  });

  it('inferMlp checks its arguments and names itself', () => {
    const sd = mlp(spec).stateDict();
    expect(() => inferMlp(junk(undefined))).toThrow('inferMlp: tensors must be a record of name → Tensor (a state dict), got undefined');
    expect(() => inferMlp(sd, junk('bogus'))).toThrow("inferMlp: activation must be one of 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', got string 'bogus'");
    expect(() => inferMlp(sd, 'tanh', junk(1))).toThrow('inferMlp: file must be a string (the name used in errors), got 1');
    expect(() => inferMlp({})).toThrow('inferMlp: model: cannot infer an MLP: no tensors');
    expect(() => inferMlp({ '0.weight': junk([1, 2]) }, 'relu', 'f')).toThrow('inferMlp: f: 0.weight must be a Tensor, got an array');
    expect(inferMlp(sd, 'tanh').spec).toEqual({ ...spec, activation: 'tanh' });
  });

  it('saveModel checks the model, path and info before writing, so what it writes loadModel can read', async () => {
    const m = mlp(spec);
    const path = join(dir, 'checked.safetensors');
    await expect(saveModel(junk(Infinity), path, { spec, classes: ['a', 'b'], preprocess: null })).rejects.toThrow(
      'saveModel: model must be a Module (an mlp() or an Ensemble of them), got Infinity',
    );
    await expect(saveModel(m, junk(1n), { spec, classes: ['a', 'b'], preprocess: null })).rejects.toThrow('saveModel: path must be a non-empty string, got bigint 1n');
    await expect(saveModel(m, path, junk(null))).rejects.toThrow('saveModel: info must be an object { spec, classes, preprocess?, extra? }, got null');
    await expect(saveModel(m, path, { spec, classes: junk(NaN), preprocess: null })).rejects.toThrow(
      'saveModel: classes must list 2 class names (the model has 2 outputs), got NaN',
    );
    await expect(saveModel(m, path, { spec, classes: ['a', 'b'], preprocess: junk({ kind: 'x' }) })).rejects.toThrow(
      /^saveModel: info\.preprocess is not a scaler state \(toJSON\(\) of a fitted scaler\): scalerFromJSON: kind must be/,
    );
    const fourFeatures = new StandardScaler().fit(randn([5, 4])).toJSON();
    await expect(saveModel(m, path, { spec, classes: ['a', 'b'], preprocess: fourFeatures })).rejects.toThrow('saveModel: info.preprocess scales 4 features, the model takes 3');
    await expect(saveModel(m, path, { spec, classes: ['a', 'b'], preprocess: null, extra: junk({ a: 1 }) })).rejects.toThrow('saveModel: info.extra.a must be a string, got 1');
    const missing = join(dir, 'no-such-folder', 'x.safetensors');
    await expect(saveModel(m, missing, { spec, classes: ['a', 'b'], preprocess: null })).rejects.toThrow(`saveModel: ${missing}: cannot write: ENOENT`);
    // An absent preprocess (undefined) is no scaling, as null is.
    await saveModel(m, path, { spec, classes: ['a', 'b'], preprocess: junk(undefined) });
    const back = await loadModel(path);
    expect(back.preprocess).toBeNull();
    expect(back.classes).toEqual(['a', 'b']);
  });

  it('mlp checks its spec before building anything', () => {
    expect(() => mlp(junk(undefined))).toThrow('mlp: spec must be an object { inputs, hidden, outputs, activation?, dropout? }, got undefined');
    expect(() => mlp({ inputs: 1, hidden: junk('a'), outputs: 2 })).toThrow("mlp: hidden must be an array of layer widths (e.g. [64, 32]; [] for none), got string 'a'");
    expect(() => mlp({ inputs: 1, hidden: junk(-Infinity), outputs: 2 })).toThrow('mlp: hidden must be an array of layer widths (e.g. [64, 32]; [] for none), got -Infinity');
    expect(() => mlp({ inputs: 1, hidden: [4, 0], outputs: 2 })).toThrow('mlp: hidden[1] must be a positive integer, got 0');
    expect(() => mlp({ inputs: 1, hidden: [], outputs: junk('2') })).toThrow("mlp: outputs must be a positive integer, got string '2'");
    expect(() => mlp({ inputs: 2, hidden: [1, 1], outputs: 1e300 })).toThrow('mlp: outputs must be a positive integer, got 1e+300');
    expect(() => mlp({ inputs: 100000, hidden: [100000], outputs: 1 })).toThrow('mlp: layer 0 would have a [100000, 100000] weight, more than the 4294967295 elements a tensor may hold');
    expect(() => mlp({ ...spec, activation: junk('swish') })).toThrow("mlp: activation must be one of 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', got string 'swish'");
    expect(() => mlp({ ...spec, dropout: junk(null) })).toThrow('mlp: dropout must be a number in [0, 1), got null');
    expect(() => mlp(junk({ ...spec, hiddens: [8] }))).toThrow("mlp: unknown spec key 'hiddens'");
  });

  it('summary checks the model and shape, and names itself when the trial forward pass fails', () => {
    const m = mlp(spec);
    expect(() => summary(junk(null), [2, 3])).toThrow('summary: model must be a Module, got null');
    expect(() => summary(junk([]), [2, 3])).toThrow('summary: model must be a Module, got an array');
    expect(() => summary(m, junk({}))).toThrow('summary: inputShape must be an array of dims (e.g. [1, 784]), got Object');
    expect(() => summary(m, [-1, 3])).toThrow('summary: inputShape: invalid shape: dims must be non-negative integers, got -1 at position 0');
    expect(() => summary(m, [2 ** 53, 3])).toThrow(/^summary: inputShape: shape \[9007199254740992, 3\] has \d+ elements, more than/);
    expect(() => summary(new Flatten(), [3])).toThrow('summary: the forward pass on zeros([3]) failed: flatten: startDim 1 is out of range for a tensor with 1 dims');
    expect(() => summary(m, [2, 5])).toThrow(/^summary: the forward pass on zeros\(\[2, 5\]\) failed: linear: /);
    // A failed pass leaves the model as it was: its forward works and its mode is restored.
    m.train();
    expect(() => summary(m, [2, 5])).toThrow();
    expect(m.training).toBe(true);
    expect(summary(m, [2, 3]).totalParams).toBe(3 * 4 + 4 + 4 * 2 + 2);
  });
});
