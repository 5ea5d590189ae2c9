import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { loadDigits, loadFile } from '../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/esm/cli/bin.js');
let dir = '';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Sink();
  const err = new Sink();
  const code = await main(argv, out as unknown as NodeJS.WriteStream, err as unknown as NodeJS.WriteStream);
  return { code, out: out.text, err: err.text };
}

/** The real executable, as `npx tensorgrad` runs it. */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(bin)) throw new Error('dist/ is missing: run `npm run build:ts` (npm test does)');
  dir = mkdtempSync(join(tmpdir(), 'tg-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tensorgrad CLI: flags', () => {
  it('--help lists every flag with its default', async () => {
    const r = await run(['train', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--data', '--label-column', '--hidden', '--activation', '--dropout', '--epochs', '--batch-size', '--lr', '--optimizer', '--weight-decay', '--mixup', '--ensemble', '--seed', '--threads', '--save', '--plot', '--validation-split']) {
      expect(r.out).toContain(flag);
    }
    expect(r.out).toMatch(/--hidden <w1,w2,…>\s+hidden layer widths.*\(default: 512,256\)/);
    expect(r.out).toMatch(/--epochs <n>\s+training epochs \(default: 10\)/);
    for (const c of ['eval', 'predict']) {
      const h = await run([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.out).toMatch(/--model <model.safetensors>/);
    }
    const version = await run(['--version']);
    expect(version.out).toBe(`${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
    const top = await run(['--help']);
    expect(top.out).toMatch(/train .*\n\s+eval .*\n\s+predict/);
  });

  it('rejects bad flags and values with one line and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--epochs', 'ten'], /^tensorgrad train: --epochs must be an integer in \[1, 100000\], got 'ten' \(see tensorgrad train --help\)\n$/],
      [['train', '--bogus'], /^tensorgrad train: Unknown option '--bogus'.*\n$/],
      [['train', '--hidden', '12,x'], /^tensorgrad train: --hidden must be comma-separated positive integers, got '12,x'.*\n$/],
      [['train', '--optimizer', 'lbfgs'], /^tensorgrad train: --optimizer must be one of adamw, adam, sgd, rmsprop, got 'lbfgs'.*\n$/],
      [['train', '--lr', '0'], /^tensorgrad train: --lr must be a number in \[5e-324, 100\], got '0'.*\n$/],
      [['train', '--epochs', '-1'], /^tensorgrad train: --epochs must be an integer in \[1, 100000\], got '-1'.*\n$/],
      [['train', '--label-column', 'y'], /^tensorgrad train: --label-column applies to CSV data only, not --data digits.*\n$/],
      [['train', '--save', '.'], /^tensorgrad train: --save \. is a folder; give a file name.*\n$/],
      [['train', '--early-stopping', '3'], /^tensorgrad train: --early-stopping needs a --validation-split.*\n$/],
      [['train', 'extra'], /^tensorgrad train: unexpected argument 'extra'.*\n$/],
      [['train', '--data', '/no/such/place'], /^tensorgrad train: --data: '\/no\/such\/place' is not 'digits', 'fashion-mnist', a folder or a file that exists.*\n$/],
      [['eval'], /^tensorgrad eval: --model <file> is required.*\n$/],
      [['predict', '--model', 'm.safetensors'], /^tensorgrad predict: --input <file> is required.*\n$/],
      [['frobnicate'], /^tensorgrad: unknown command 'frobnicate'.*\n$/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('reports missing files and malformed data with one line and exit code 1', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b,label\n1,2,0\n3,oops,1\n');
    const r = await run(['train', '--data', bad, '--epochs', '1', '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tensorgrad train: loadCsv: .*bad\.csv: line 3, column 2 \("b"\): "oops" is not a number\n$/);
    const noLabel = join(dir, 'nolabel.csv');
    writeFileSync(noLabel, 'a,b\n1,2\n');
    const r2 = await run(['train', '--data', noLabel, '--progress', 'none']);
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/label.*--label-column/);
    const r3 = await run(['eval', '--model', join(dir, 'missing.safetensors')]);
    expect(r3.code).toBe(1);
    expect(r3.err).toMatch(/^tensorgrad eval: .*missing\.safetensors.*ENOENT.*\n$/);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'this is not a model');
    const r4 = await run(['eval', '--model', junk]);
    expect(r4.code).toBe(1);
    expect(r4.err.split('\n')).toHaveLength(2);
    // A file without a header would silently lose its first row: refused.
    const headerless = join(dir, 'headerless.csv');
    writeFileSync(headerless, '1,2,0\n3,4,1\n');
    const r5 = await run(['train', '--data', headerless, '--progress', 'none']);
    expect(r5.code).toBe(1);
    expect(r5.err).toMatch(/headerless\.csv: the first row holds numbers, not column names; add a header row/);
    // Labels the training data never shows cannot be tested on.
    const tr = join(dir, 'tr.csv');
    const te = join(dir, 'te.csv');
    writeFileSync(tr, 'a,label\n1,cat\n2,dog\n3,cat\n4,dog\n');
    writeFileSync(te, 'a,label\n1,cat\n2,eel\n');
    const r6 = await run(['train', '--data', tr, '--test-data', te, '--progress', 'none']);
    expect(r6.code).toBe(1);
    expect(r6.err).toMatch(/label 'eel' is not one of the model's classes \(cat, dog\)/);
  });
});

describe('tensorgrad CLI: a real run', () => {
  it('trains one epoch on a slice of the digits, writes weights and plot, then evaluates and predicts with them', async () => {
    const model = join(dir, 'out', 'm.safetensors');
    const plot = join(dir, 'out', 'curve.svg');
    const t = cli(['train', '--limit', '1200', '--epochs', '1', '--hidden', '64', '--batch-size', '32', '--seed', '3', '--save', model, '--plot', plot, '--validation-split', '0.1']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/^tensorgrad: (native|js) backend, \S+, \d+ threads?\n/);
    expect(t.stdout).toMatch(/data: digits: 1080 training rows, 120 validation, 1996 test, 784 features, 10 classes/);
    expect(t.stdout).toMatch(/epoch 1\/1 {2}loss \d\.\d{4} {2}accuracy [\d.]+% {2}val loss/);
    const acc = Number(/test accuracy: ([\d.]+)%/.exec(t.stdout)?.[1]);
    expect(acc).toBeGreaterThan(70);
    expect(readFileSync(plot, 'utf8')).toMatch(/^(<\?xml[^>]*>\s*)?<svg[\s\S]*<\/svg>\s*$/);
    const saved = await loadFile(model);
    expect(Object.keys(saved.tensors).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight']);
    expect(JSON.parse(saved.metadata['tensorgrad.model']!)).toMatchObject({ inputs: 784, hidden: [64], outputs: 10 });

    const e = cli(['eval', '--model', model, '--data', 'digits']);
    expect(e.status).toBe(0);
    expect(Number(/accuracy: ([\d.]+)%/.exec(e.stdout)?.[1])).toBe(acc);
    expect(e.stdout).toMatch(/true\\pred\s+0\s+1\s+2/);

    // Five test digits as CSV rows: one predicted class per line.
    const d = loadDigits();
    const x = d.test.tensors[0];
    const rows = [Array.from({ length: 784 }, (_, i) => `p${i}`).join(',')];
    for (let r = 0; r < 5; r++) rows.push(Array.from(x.data.subarray(r * 784, (r + 1) * 784)).join(','));
    const input = join(dir, 'five.csv');
    writeFileSync(input, `${rows.join('\n')}\n`);
    const p = cli(['predict', '--model', model, '--input', input]);
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^\d$/);
    // With 70%+ accuracy, most of five should match their labels.
    const truth = Array.from(d.test.tensors[1].data.subarray(0, 5), String);
    expect(lines.filter((l, i) => l === truth[i]).length).toBeGreaterThanOrEqual(3);
    // The same rows with a label column (the Kaggle MNIST layout): eval reads it, predict skips it.
    const labelled = join(dir, 'labelled.csv');
    const lrows = [`label,${rows[0]}`];
    for (let r = 0; r < 5; r++) lrows.push(`${truth[r]},${rows[r + 1]}`);
    writeFileSync(labelled, `${lrows.join('\n')}\n`);
    const pl = cli(['predict', '--model', model, '--input', labelled]);
    expect(pl.stderr).toBe('');
    expect(pl.stdout).toBe(p.stdout);
    const el = cli(['eval', '--model', model, '--data', labelled]);
    expect(el.stderr).toBe('');
    expect(el.stdout).toMatch(new RegExp(`accuracy: ${((lines.filter((l, i) => l === truth[i]).length / 5) * 100).toFixed(2)}% \\(loss [\\d.]+, 5 samples\\)`));
    const pp = cli(['predict', '--model', model, '--input', input, '--probabilities']);
    const first = pp.stdout.trim().split('\n')[1]!.split(',');
    expect(first).toHaveLength(11);
    expect(first.slice(1).reduce((s, v) => s + Number(v), 0)).toBeCloseTo(1, 2);
  });

  it('trains on a CSV file with text labels, standardising with training statistics, and predicts class names', () => {
    const lines = ['id,x1,x2,species'];
    for (let i = 0; i < 120; i++) {
      const c = i % 2;
      lines.push(`${i},${(c ? 1000 : -1000) + (i % 7) * 10},${(i % 5) * 0.001},${c ? 'yes' : 'no'}`);
    }
    const csv = join(dir, 'two.csv');
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const model = join(dir, 'csv.safetensors');
    const t = cli(['train', '--data', csv, '--label-column', 'species', '--ignore-columns', 'id', '--hidden', '8', '--epochs', '20', '--batch-size', '16', '--lr', '0.05', '--save', model, '--progress', 'none']);
    expect(t.stderr).toBe('');
    expect(t.stdout).toMatch(/96 training rows, 24 test, 2 features, 2 classes/);
    expect(t.stdout).toMatch(/test accuracy: 100\.00%/);
    const input = join(dir, 'rows.csv');
    // Columns in another order, an id and a label column: matched to the model's inputs by name.
    writeFileSync(input, 'x2,species,id,x1\n0.002,?,5,1020\n0.001,?,6,-990\n');
    const p = cli(['predict', '--model', model, '--input', input]);
    expect(p.stderr).toBe('');
    expect(p.stdout).toBe('yes\nno\n');
    const e = cli(['eval', '--model', model, '--data', csv]);
    expect(e.stderr).toBe('');
    expect(e.stdout).toMatch(/accuracy: 100\.00% \(loss [\d.]+, 120 samples\)/);
    expect(e.stdout).toMatch(/true\\pred\s+no\s+yes/);
    writeFileSync(input, 'x1\n5\n');
    const missing = cli(['predict', '--model', model, '--input', input]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/missing the model's input column "x2"/);
  });

  it('writes class names that need quoting as valid CSV', () => {
    const lines = ['x,label'];
    for (let i = 0; i < 40; i++) lines.push(`${i % 2 ? 5 : -5},${i % 2 ? '"say ""hi"""' : '"a,b"'}`);
    const csv = join(dir, 'quoted.csv');
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const model = join(dir, 'quoted.safetensors');
    const t = cli(['train', '--data', csv, '--hidden', '4', '--epochs', '30', '--lr', '0.05', '--batch-size', '8', '--save', model, '--progress', 'none']);
    expect(t.stderr).toBe('');
    const input = join(dir, 'q-in.csv');
    writeFileSync(input, 'x\n5\n-5\n');
    const p = cli(['predict', '--model', model, '--input', input, '--probabilities']);
    expect(p.stderr).toBe('');
    const out = p.stdout.split('\n');
    expect(out[0]).toBe('class,"a,b","say ""hi"""');
    expect(out[1]).toMatch(/^"say ""hi""",0\.\d{4},\d\.\d{4}$/);
    expect(out[2]).toMatch(/^"a,b",\d\.\d{4},0\.\d{4}$/);
  });
});
