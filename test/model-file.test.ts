import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  Ensemble,
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
  serialize,
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
