/**
 * Autograd integrity: backward() refuses tensors it needs that were modified in place since the
 * forward pass (version counter for the library's own writes, fingerprints for writes through
 * `.data`), tensors whose buffer was detached are refused by every use, and gradients are Tensors
 * of the right shape.
 */
import { expect, it } from 'vitest';
import { fingerprint as jsFingerprint } from '../src/backend/js/fingerprint.js';
import { getBackend, setBackend } from '../src/backend/index.js';
import { loadAddon } from '../src/backend/native.js';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

const MODIFIED = /backward: one of the tensors needed for gradient computation has been modified/;
const DETACHED = /tensor data was detached \(transferred or resized\)/;
const junk = <T>(v: unknown): T => v as T;

function detach(t: tg.Tensor): void {
  const buf = t.data.buffer as ArrayBuffer;
  structuredClone(buf, { transfer: [buf] });
}

/** The reference definition, in exact integer arithmetic. */
function referenceFingerprint(x: Float32Array): number {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0n;
  for (let i = 0; i < u.length; i++) h = (h + BigInt(u[i]!) * BigInt(2 * i + 1)) % 2n ** 32n;
  return Number(h);
}

function mlp(): tg.Sequential {
  tg.manualSeed(7);
  return new tg.Sequential(new tg.Linear(4, 8), new tg.ReLU(), new tg.Linear(8, 3));
}

function batch(): [tg.Tensor, tg.Tensor] {
  tg.manualSeed(11);
  return [tg.randn([5, 4]), tg.tensor([0, 1, 2, 1, 0])];
}

/** Counts fingerprint calls on the current backend while fn runs. */
function countFingerprints(fn: () => void): number {
  const be = getBackend();
  let calls = 0;
  setBackend({ ...be, fingerprint: (x) => (calls++, be.fingerprint(x)) });
  try {
    fn();
  } finally {
    setBackend(be);
  }
  return calls;
}

async function countFingerprintsAsync(fn: () => Promise<void>): Promise<number> {
  const be = getBackend();
  let calls = 0;
  setBackend({ ...be, fingerprint: (x) => (calls++, be.fingerprint(x)) });
  try {
    await fn();
  } finally {
    setBackend(be);
  }
  return calls;
}

describeBackends('fingerprint kernel', (backend) => {
  it('matches the definition Σ bits[i]·(2i+1) mod 2^32 and the TypeScript kernel', () => {
    // The native backend must run its own kernel, not the TypeScript stand-in for old binaries.
    if (backend().name === 'native') expect(typeof loadAddon()?.fingerprint).toBe('function');
    tg.manualSeed(3);
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 1000, 4099]) {
      const x = tg.randn([n]).data.map((v, i) => (i % 5 === 0 ? -v * 1e30 : v));
      const want = referenceFingerprint(x);
      expect(backend().fingerprint(x)).toBe(want);
      expect(jsFingerprint(x)).toBe(want);
    }
  });

  it('changes when any single element changes, and reads only its view', () => {
    const base = new Float32Array(64).map((_, i) => i * 0.5);
    const x = base.subarray(8, 40);
    const f = backend().fingerprint(x);
    base[0] = 99; // outside the view
    expect(backend().fingerprint(x)).toBe(f);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i]!;
      x[i] = keep + 1;
      expect(backend().fingerprint(x)).not.toBe(f);
      x[i] = keep;
    }
    expect(backend().fingerprint(x)).toBe(f);
    [x[3], x[4]] = [x[4]!, x[3]!]; // a swap
    expect(backend().fingerprint(x)).not.toBe(f);
    const z = new Float32Array([1, 0, 2]);
    const fz = backend().fingerprint(z);
    z[1] = -0; // equal as numbers, a different bit pattern: still a write
    expect(backend().fingerprint(z)).not.toBe(fz);
    if (backend().name === 'native') expect(() => loadAddon()!.fingerprint!(new Float64Array(2) as unknown as Float32Array)).toThrow(/Float32Array/);
  });
});

describeBackends('saved tensors modified between forward and backward', () => {
  it('catches an input written through .data (the issue: w.grad was [100, 100])', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4]);
    const y = w.mul(x).sum();
    x.data.fill(100);
    expect(() => y.backward()).toThrow(MODIFIED);
    expect(() => y.backward()).toThrow(/input 1 of mul \(shape \[2\]\) was written through \.data after mul ran/);
    expect(w.grad).toBeNull();
  });

  it("catches an op's output written through .data (the issue: exp's gradient was [7, 7])", () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const y = w.exp();
    y.data.fill(7);
    expect(() => y.backward(tg.ones([2]))).toThrow(/the output of exp \(shape \[2\]\) was written through \.data/);
    expect(w.grad).toBeNull();
  });

  it('catches writes through an array taken before the forward pass, and lets unchanged data through', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4]);
    const d = x.data;
    w.mul(x).sum().backward();
    expect(Array.from(w.grad!.data)).toEqual([3, 4]);
    const y = w.mul(x).sum();
    d[1] = 5;
    expect(() => y.backward()).toThrow(MODIFIED);
    expect(Array.from(w.grad!.data)).toEqual([3, 4]); // a refused backward accumulates nothing
  });

  it('catches a user-built tensor whose array is written (new Tensor keeps the caller’s array)', () => {
    const arr = new Float32Array([1, 2, 3]);
    const x = new tg.Tensor(arr, [3]);
    const w = tg.ones([3], { requiresGrad: true });
    const y = w.mul(x).sum();
    arr[2] = 0;
    expect(() => y.backward()).toThrow(/input 1 of mul/);
  });

  it('checks only what the backward reads: add reads no operand, exp reads its output only', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4]);
    const y = w.add(x).sum();
    x.data.fill(-1);
    y.backward();
    expect(Array.from(w.grad!.data)).toEqual([1, 1]);
    w.grad = null;
    const a = w.mul(1); // saves the scalar 1 (for w's gradient), not its output a
    const e = a.exp(); // saves e
    a.data.fill(0); // nobody's backward reads a
    e.sum().backward();
    expect(w.grad!.toArray()).toEqual([Math.fround(Math.exp(1)), Math.fround(Math.exp(2))]);
  });

  it('names the op and the versions after markModified(), as PyTorch does', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4]);
    const y = w.mul(x).sum();
    expect(x.version).toBe(0);
    x.markModified();
    expect(x.version).toBe(1);
    expect(() => y.backward()).toThrow(
      /modified by an in-place operation: input 1 of mul \(shape \[2\]\) is at version 1; expected version 0/,
    );
  });

  it('shares one version counter among views (reshape, flatten, slice, detach, DataLoader batches)', () => {
    const x = tg.arange(0, 6);
    const views = [x.reshape([2, 3]), x.flatten(), x.slice(2, 4), x.detach(), x.reshape([3, 2]).slice(1)];
    x.markModified();
    for (const v of views) expect(v.version).toBe(1);
    views[2]!.fill_(0);
    expect(x.version).toBe(2);
    expect(Array.from(x.data)).toEqual([0, 1, 0, 0, 4, 5]);
    expect(x.clone().version).toBe(0);
    const [bx] = [...new tg.DataLoader(new tg.TensorDataset(x.reshape([3, 2]), tg.zeros([3])), { batchSize: 2 })][1]!;
    const [row] = new tg.TensorDataset(x.reshape([3, 2])).get(2);
    x.markModified();
    expect([bx!.version, row!.version]).toEqual([x.version, x.version]);
    expect(Array.from(bx!.data)).toEqual([4, 5]);

    const w = tg.ones([2, 3], { requiresGrad: true });
    const y = w.mul(views[0]!).sum();
    x.zero_(); // through the base: the view it saved is stale
    expect(() => y.backward()).toThrow(/input 1 of mul \(shape \[2, 3\]\) is at version 4; expected version 3/);
    const y2 = w.mul(views[0]!).sum();
    views[1]!.data[5] = 1; // through another view's array
    expect(() => y2.backward()).toThrow(MODIFIED);
  });

  it('bumps the version on fill_, zero_, copy_ and refuses them where autograd would lose track', () => {
    const t = tg.zeros([2, 2]);
    t.fill_(3);
    t.copy_(tg.tensor([1, 2]));
    expect(t.toArray()).toEqual([[1, 2], [1, 2]]);
    t.copy_(tg.tensor([[5, 6], [7, 8]]));
    expect(t.toArray()).toEqual([[5, 6], [7, 8]]);
    t.zero_();
    expect(t.version).toBe(4);
    expect(() => t.copy_(tg.zeros([3]))).toThrow(/copy_/);
    const p = tg.ones([2], { requiresGrad: true });
    expect(() => p.fill_(0)).toThrow(/fill_: a leaf tensor that requires grad/);
    expect(() => p.mul(2).zero_()).toThrow(/zero_: can't modify the output of a recorded op \(mul\)/);
    tg.noGrad(() => p.fill_(0));
    expect(p.toArray()).toEqual([0, 0]);
    expect(() => tg.zeros([2]).copy_(p)).toThrow(/copy_: src requires grad/);
  });

  for (const [name, make] of [
    ['SGD', (ps: tg.Tensor[]) => new tg.SGD(ps, { lr: 0.1, momentum: 0.9 })],
    ['Adam', (ps: tg.Tensor[]) => new tg.Adam(ps, { lr: 0.01 })],
    ['AdamW', (ps: tg.Tensor[]) => new tg.AdamW(ps, { lr: 0.01 })],
    ['RMSprop', (ps: tg.Tensor[]) => new tg.RMSprop(ps, { lr: 0.01 })],
  ] as const) {
    it(`refuses backward after a ${name} step changed a weight the graph saved (as PyTorch does)`, () => {
      const model = mlp();
      const opt = make(model.parameters());
      const [x, y] = batch();
      tg.crossEntropy(model.forward(x), y).backward();
      const loss = tg.crossEntropy(model.forward(x), y);
      opt.step();
      // The second Linear saved its weight for the gradient of the hidden layer.
      expect(() => loss.backward()).toThrow(/modified by an in-place operation: input 1 of linear \(shape \[3, 8\]\) is at version \d+; expected version \d+/);
    });
  }

  it('refuses backward after loadStateDict or an initialiser wrote the weights', () => {
    const model = mlp();
    const [x, y] = batch();
    const state = mlp().stateDict();
    let loss = tg.crossEntropy(model.forward(x), y);
    model.loadStateDict(state);
    expect(() => loss.backward()).toThrow(/in-place operation/);
    loss = tg.crossEntropy(model.forward(x), y);
    tg.init.kaimingUniform_(model.parameters()[2]!);
    expect(() => loss.backward()).toThrow(/in-place operation/);
  });

  it('refuses backward when a reused DataLoader buffer was refilled by the next batch', () => {
    const ds = new tg.TensorDataset(tg.randn([8, 4]), tg.tensor([0, 1, 2, 0, 1, 2, 0, 1]));
    const loader = new tg.DataLoader(ds, { batchSize: 4, shuffle: true });
    const it = loader.transientBatches();
    const model = mlp();
    const [x1, y1] = it.next().value as [tg.Tensor, tg.Tensor];
    const loss = tg.crossEntropy(model.forward(x1), y1);
    it.next();
    expect(() => loss.backward()).toThrow(/input 0 of linear(Relu)? \(shape \[4, 4\]\) is at version 2; expected version 1/);
  });

  it('catches a library write during backward: a .grad that a later node reads, accumulated in place', () => {
    const setup = () => {
      const w = tg.tensor([1, 2], { requiresGrad: true });
      const v = tg.tensor([3, 4], { requiresGrad: true });
      w.sum().backward(); // w.grad = [1, 1]
      return { w, v, g: w.grad! };
    };
    // v·g runs first: it reads g before w's gradient is added into it.
    let { w, v, g } = setup();
    w.mul(g).sum().add(v.mul(g).sum()).backward();
    expect(w.grad!.toArray()).toEqual([2, 2]);
    expect(v.grad!.toArray()).toEqual([1, 1]);
    // w's gradient lands in g (in place) before v·g's backward reads g: it would read [2, 2].
    ({ w, v, g } = setup());
    const loss = v.mul(g).sum().add(w.mul(g).sum());
    expect(() => loss.backward()).toThrow(/input 1 of mul \(shape \[2\]\) is at version 1; expected version 0/);
    expect(v.grad).toBeNull();
  });

  it('never trips, and never fingerprints, while a model trains normally', async () => {
    const model = mlp();
    const opt = new tg.Adam(model.parameters(), { lr: 0.01 });
    const [x, y] = batch();
    let first = 0;
    let last = 0;
    const calls = countFingerprints(() => {
      for (let step = 0; step < 20; step++) {
        opt.zeroGrad();
        const loss = tg.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        if (step === 0) first = loss.item();
        last = loss.item();
      }
    });
    expect(calls).toBe(0);
    expect(last).toBeLessThan(first);
    // fit: shuffled batches in reused buffers, metrics, validation, restoreBest.
    const ds = new tg.TensorDataset(tg.randn([40, 4]), tg.tensor(Array.from({ length: 40 }, (_, i) => i % 3)));
    const val = new tg.TensorDataset(tg.randn([12, 4]), tg.tensor(Array.from({ length: 12 }, (_, i) => i % 3)));
    let epochs = 0;
    const fitCalls = await countFingerprintsAsync(async () => {
      const h = await tg.fit(model, { train: ds, validation: val, batchSize: 8, epochs: 3, optimizer: new tg.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }), progress: 'none', restoreBest: true });
      epochs = h.epochs.length;
    });
    expect(epochs).toBe(3);
    expect(fitCalls).toBe(0);
  });

  it('ops, losses and backward never mark their tensors as seen by user code (which would cost fingerprints)', () => {
    tg.manualSeed(5);
    const x = tg.randn([4, 3], { requiresGrad: true });
    const w = tg.randn([2, 3], { requiresGrad: true });
    const b = tg.randn([2], { requiresGrad: true });
    const t = tg.tensor([0, 1, 1, 0]);
    const outs = [
      tg.linear(x, w, b), tg.linearRelu(x, w, b), x.matmul(w.T), x.mul(x).div(x.add(5)).sub(1), x.exp().log().abs().sqrt(),
      x.pow(2).clamp(0, 1), x.relu(), x.leakyRelu(0.1), x.sigmoid(), x.tanh(), x.gelu(), x.gelu('tanh'), x.softmax(),
      x.logSoftmax(1), x.sum(0), x.mean(), x.max(), x.min(1), x.reshape([3, 4]).transpose(0, 1).flatten(),
      x.slice(1, 3), x.indexSelect([0, 2]), tg.concat([x, x], 1), tg.stack([x, x]), tg.dropout(x, 0.5),
      tg.crossEntropy(tg.linear(x, w, b), t.slice(0, 4)), tg.nllLoss(tg.linear(x, w, b).logSoftmax(1), t),
      tg.mseLoss(x, x.detach()), tg.l1Loss(x, tg.zeros([4, 3])), tg.bceWithLogits(x, tg.ones([4, 3])), tg.bce(x.sigmoid(), tg.ones([4, 3])),
    ];
    for (const o of outs) o.sum().backward();
    for (const u of [x, w, b, t, ...outs, x.grad!, w.grad!, b.grad!]) expect(u._storage.exposed).toBe(false);
  });

  it('fingerprints only exposed tensors, once at record and once at backward', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4]);
    expect(countFingerprints(() => w.mul(x).sum().backward())).toBe(0);
    void x.data;
    expect(countFingerprints(() => w.mul(x).sum().backward())).toBe(2);
  });
});

describeBackends('detached buffers', () => {
  const cases: [string, (t: tg.Tensor) => unknown][] = [
    ['add', (t) => t.add(1)],
    ['mul', (t) => tg.ones([2]).mul(t)],
    ['matmul', (t) => t.matmul(tg.ones([2, 2]))],
    ['softmax', (t) => t.softmax()],
    ['sum', (t) => t.sum()],
    ['mean', (t) => t.mean()],
    ['max', (t) => t.max()],
    ['exp', (t) => t.exp()],
    ['relu', (t) => t.relu()],
    ['reshape', (t) => t.reshape([4])],
    ['indexSelect', (t) => t.indexSelect([0])],
    ['linear', (t) => tg.linear(tg.ones([1, 2]), t)],
    ['mseLoss', (t) => tg.mseLoss(t, tg.zeros([2, 2]))],
    ['item', (t) => t.item()],
    ['toArray', (t) => t.toArray()],
    ['toString', (t) => String(t)],
    ['clone', (t) => t.clone()],
    ['data', (t) => t.data],
  ];
  for (const [op, use] of cases) {
    it(`${op} refuses a tensor whose buffer was transferred`, () => {
      const t = tg.tensor([[1, 2], [3, 4]]);
      detach(t);
      expect(() => use(t)).toThrow(new RegExp(`^${op}: tensor data was detached \\(transferred or resized\\)`));
    });
  }

  it('item refuses a detached one-element tensor', () => {
    const t = tg.tensor([5]);
    detach(t);
    expect(() => t.item()).toThrow(/^item: tensor data was detached/);
  });

  for (const name of ['SGD', 'Adam', 'RMSprop'] as const) {
    it(`${name}.step refuses a detached parameter and leaves the others alone`, () => {
      const a = tg.ones([2], { requiresGrad: true });
      const p = tg.ones([2], { requiresGrad: true });
      const opt = name === 'SGD' ? new tg.SGD([a, p], { lr: 0.1 }) : name === 'Adam' ? new tg.Adam([a, p], { lr: 0.1 }) : new tg.RMSprop([a, p], { lr: 0.1 });
      a.mul(p).sum().backward();
      detach(p);
      expect(() => opt.step()).toThrow(new RegExp(`${name}.*${DETACHED.source}`));
      expect(a.toArray()).toEqual([1, 1]);
    });
  }

  it('backward refuses a saved tensor whose buffer was transferred', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4]);
    const y = w.mul(x).sum();
    detach(x);
    expect(() => y.backward()).toThrow(/^backward: tensor data was detached \(transferred or resized\): input 1 of mul/);
    expect(w.grad).toBeNull();
  });

  it('backward refuses a detached upstream gradient, and grad refuses a detached tensor', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const g = tg.ones([2]);
    detach(g);
    expect(() => w.mul(2).backward(g)).toThrow(/^backward: tensor data was detached/);
    expect(() => (w.grad = g)).toThrow(/^grad: tensor data was detached/);
  });

  it('an empty tensor whose buffer was transferred is refused by its uses too, naming the op', () => {
    // Length 0 either way: only the buffer tells a detached empty array from a live one.
    const cases: [string, (t: tg.Tensor) => unknown][] = [
      ['matmul', (t) => tg.matmul(tg.ones([1, 2, 3]), t)],
      ['slice', (t) => t.slice(-4, -2)],
      ['clone', (t) => t.clone()],
      ['toArray', (t) => t.toArray()],
      ['toString', (t) => String(t)],
      ['reshape', (t) => t.reshape(-1)],
      ['zerosLike', (t) => tg.zerosLike(t)],
      ['sum', (t) => t.sum()],
      ['data', (t) => t.data],
    ];
    for (const [op, use] of cases) {
      const t = tg.zeros([1, 4, 4, 0]);
      detach(t);
      expect(() => use(t)).toThrow(new RegExp(`^${op}: ${DETACHED.source}`));
    }
    expect(tg.zeros([1, 4, 4, 0]).slice(-4, -2).shape).toEqual([0, 4, 4, 0]);
  });

  it('zerosLike and onesLike refuse a detached input rather than copying its shape', () => {
    for (const f of ['zerosLike', 'onesLike'] as const) {
      const t = tg.ones([4]);
      detach(t);
      expect(() => tg[f](t)).toThrow(new RegExp(`^${f}: ${DETACHED.source}`));
    }
  });

  it('creation refuses a detached array', () => {
    for (const n of [0, 3]) {
      const a = new Float32Array(n);
      structuredClone(a.buffer, { transfer: [a.buffer] });
      expect(() => new tg.Tensor(a, [n])).toThrow(/^Tensor: tensor data was detached/);
      expect(() => tg.tensor(a)).toThrow(/^tensor: tensor data was detached/);
    }
  });
});

describeBackends('gradients must be tensors of the right shape', () => {
  it('backward([1, 1]) names what it got', () => {
    const y = tg.tensor([1, 2], { requiresGrad: true }).mul(2);
    expect(() => y.backward([1, 1] as unknown as tg.Tensor)).toThrow('backward: gradient must be a Tensor, got an array');
    expect(() => y.backward('1' as unknown as tg.Tensor)).toThrow(/^backward: gradient must be a Tensor, got string '1'/);
  });

  it('grad accepts null or a tensor of the same shape, and refuses anything else', () => {
    const w = tg.zeros([4], { requiresGrad: true });
    expect(() => (w.grad = tg.zeros([2]))).toThrow('grad: assigned gradient has shape [2], but the tensor has shape [4]');
    expect(() => (w.grad = tg.zeros([4, 1]))).toThrow(/shape \[4, 1\]/);
    expect(() => (w.grad = [1, 2, 3, 4] as unknown as tg.Tensor)).toThrow('grad: expected a Tensor or null, got an array');
    expect(() => (w.grad = undefined as unknown as tg.Tensor)).toThrow('grad: expected a Tensor or null, got undefined');
    expect(() => (w.grad = w)).toThrow(/own gradient/);
    expect(w.grad).toBeNull();
    const g = tg.ones([4]);
    w.grad = g;
    expect(w.grad).toBe(g);
    w.sum().backward();
    expect(w.grad!.toArray()).toEqual([2, 2, 2, 2]);
    w.grad = null;
    expect(w.grad).toBeNull();
  });
});

describeBackends('accumulateGrad and requiresGrad check what they are given', () => {
  it('accumulateGrad takes a Tensor of the tensor\'s shape, and adds it in', () => {
    const w = tg.zeros([2], { requiresGrad: true });
    expect(() => w.accumulateGrad(junk(null))).toThrow('accumulateGrad: invalid gradient: expected a Tensor, got null');
    expect(() => w.accumulateGrad(junk({}))).toThrow('accumulateGrad: invalid gradient: expected a Tensor, got Object');
    expect(() => w.accumulateGrad(junk({ shape: [2], data: new Float32Array(2), size: 2 }))).toThrow(/^accumulateGrad: invalid gradient: expected a Tensor/);
    expect(() => w.accumulateGrad(Object.create(tg.Tensor.prototype) as tg.Tensor)).toThrow(/^accumulateGrad: invalid gradient: not a valid Tensor/);
    expect(() => w.accumulateGrad(tg.ones([2, 1]))).toThrow('accumulateGrad: gradient has shape [2, 1], but the tensor has shape [2]');
    expect(() => w.accumulateGrad(tg.ones([1]))).toThrow('accumulateGrad: gradient has shape [1], but the tensor has shape [2]');
    const gone = tg.ones([2]);
    detach(gone);
    expect(() => w.accumulateGrad(gone)).toThrow(/^accumulateGrad: invalid gradient: tensor data was detached/);
    expect(w.grad).toBeNull();
    const g = tg.tensor([1, 2]);
    w.accumulateGrad(g);
    w.accumulateGrad(g);
    expect(w.grad!.toArray()).toEqual([2, 4]);
    expect(g.toArray()).toEqual([1, 2]);
  });

  it('an empty leaf accumulates without calling the backend', () => {
    const w = tg.zeros([2 ** 50, 0], { requiresGrad: true });
    const be = getBackend();
    let calls = 0;
    const count = <T extends unknown[], R>(f: (...a: T) => R) => (...a: T): R => {
      calls++;
      return f(...a);
    };
    const binary = be.binary;
    be.binary = count(binary.bind(be));
    try {
      w.accumulateGrad(tg.zeros([2 ** 50, 0]));
      w.accumulateGrad(tg.zeros([2 ** 50, 0]));
      w.sum().backward();
    } finally {
      be.binary = binary;
    }
    expect(w.grad!.shape).toEqual([2 ** 50, 0]);
    expect(calls).toBe(0);
  });

  it('requiresGrad, requiresGrad_() and the constructor take booleans only', () => {
    const t = tg.zeros([2]);
    expect(() => t.requiresGrad_(junk('yes'))).toThrow("requiresGrad_: value must be a boolean, got string 'yes'");
    expect(() => t.requiresGrad_(junk(1))).toThrow('requiresGrad_: value must be a boolean, got 1');
    expect(() => (t.requiresGrad = junk('no'))).toThrow("requiresGrad: value must be a boolean, got string 'no'");
    expect(() => new tg.Tensor(new Float32Array(2), [2], junk('yes'))).toThrow("Tensor: requiresGrad must be a boolean, got string 'yes'");
    expect(() => tg.tensor([1], { requiresGrad: junk('yes') })).toThrow("tensor: options.requiresGrad must be a boolean, got string 'yes'");
    expect(t.requiresGrad).toBe(false);
    expect(t.requiresGrad_().requiresGrad).toBe(true);
    const y = t.mul(2);
    expect(() => y.requiresGrad_(false)).toThrow(/^requiresGrad_: only leaf tensors can stop requiring grad/);
    expect(() => (y.requiresGrad = false)).toThrow(/^requiresGrad: only leaf tensors can stop requiring grad/);
    t.requiresGrad = false;
    expect(t.requiresGrad).toBe(false);
  });

  it('objects posing as tensors are refused by name, not with a TypeError from a private field', () => {
    const fake = Object.create(tg.Tensor.prototype) as tg.Tensor;
    const w = tg.zeros([2], { requiresGrad: true });
    expect(() => tg.add(fake, 1)).toThrow(/^add: input is not a valid Tensor/);
    expect(() => tg.matmul(tg.ones([2, 2]), fake)).toThrow(/^matmul: other is not a valid Tensor/);
    expect(() => tg.sum(fake)).toThrow(/^sum: input is not a valid Tensor/);
    expect(() => tg.concat([w, fake])).toThrow(/^concat: element 1 is not a valid Tensor/);
    expect(() => (w.grad = fake)).toThrow(/^grad: not a valid Tensor/);
    expect(() => w.copy_(fake)).toThrow(/^copy_: src is not a valid Tensor/);
    expect(() => w.mul(2).backward(fake)).toThrow(/^backward: gradient is not a valid Tensor/);
    expect(() => tg.zerosLike(fake)).toThrow(/^zerosLike: input is not a valid Tensor/);
  });
});

it('parameter() refuses a tensor whose buffer was transferred', () => {
  const t = tg.zeros([3]);
  const buffer = t.data.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
  expect(() => tg.parameter(t)).toThrow('parameter: tensor data was detached (transferred or resized)');
});
