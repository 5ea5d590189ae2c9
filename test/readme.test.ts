// Every ```js block in README.md runs here, as a user would run it (a scratch project where
// `tensorgrad` is this checkout's built package, under the backend this process was given), and
// the output the README shows for it is checked.
//
// The mechanism: each ```js block is preceded by a marker comment,
//   <!-- readme-test: <id> run [cjs] [prelude=<name>] [output=native-exact] -->
//   <!-- readme-test: <id> skip: <why it cannot run here> -->
// A block without a marker fails the suite. `cjs` runs the block as CommonJS (.cjs), otherwise it
// runs as an ES module (.mjs). `prelude=<name>` puts the code of PRELUDES[name] before the block:
// for fragments that use a `model`, `x`, `history`… defined in the prose around them. The shown
// output is the first ```text block after the js block, when only prose lies between (no heading,
// no other fence, no marker). It must equal what the block prints, line for line (trailing spaces
// aside) on every backend — except with output=native-exact, where the numbers the TypeScript
// backend prints may differ from the shown (native) ones by up to 2% (same text around them).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** Code the README's fragments assume from the prose around them. */
const PRELUDES: Record<string, string> = {
  // A 10-class problem small enough that fit's 20 epochs take a fraction of a second.
  'small-model': `import * as tg from 'tensorgrad';
tg.manualSeed(0);
const x = tg.randn([256, 10]), y = x.argmax(1);
const train = new tg.TensorDataset(x, y), validation = [x, y], test = [x, y];
const model = tg.mlp({ inputs: 10, hidden: [32], outputs: 10 });
const signal = new AbortController().signal;
`,
};
PRELUDES['history'] = `${PRELUDES['small-model']}const history = await tg.fit(model, { train, epochs: 3, progress: 'none' });\n`;

/** The blocks deliberately not run; a new skip must be added here too, on purpose. */
const EXPECTED_SKIPS = ['train-in-worker', 'fashion-mnist'];

interface Block {
  id: string;
  line: number;
  skip: string | null;
  cjs: boolean;
  prelude: string | null;
  nativeExact: boolean;
  code: string;
  expected: string | null;
}

const MARKER = /^\s*<!-- readme-test: ([\w-]+) (?:skip: (.+?)|run((?: [\w=-]+)*)) -->\s*$/;

function parseReadme(md: string): { blocks: Block[]; unmarked: number[] } {
  const lines = md.split('\n');
  const blocks: Block[] = [];
  const unmarked: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```js\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    let j = i + 1;
    const code: string[] = [];
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) code.push(lines[j]!.slice(indent));
    let p = i - 1;
    while (p >= 0 && lines[p]!.trim() === '') p--;
    const m = p >= 0 ? MARKER.exec(lines[p]!) : null;
    if (!m) {
      unmarked.push(i + 1);
      i = j;
      continue;
    }
    const flags = (m[3] ?? '').trim().split(/\s+/).filter(Boolean);
    const unknown = flags.filter((f) => !/^(cjs|prelude=[\w-]+|output=native-exact)$/.test(f));
    if (unknown.length) throw new Error(`README.md line ${p + 1}: unknown readme-test flag(s) ${unknown.join(', ')}`);
    const prelude = flags.find((f) => f.startsWith('prelude='))?.slice('prelude='.length) ?? null;
    if (prelude !== null && !(prelude in PRELUDES)) throw new Error(`README.md line ${p + 1}: no prelude '${prelude}' in test/readme.test.ts`);
    // The shown output: the next fence, if it is a text block and only prose comes before it.
    let expected: string | null = null;
    for (let k = j + 1; k < lines.length; k++) {
      const l = lines[k]!;
      if (/^#/.test(l) || MARKER.test(l)) break;
      if (/^\s*```/.test(l)) {
        if (/^\s*```text\s*$/.test(l)) {
          const out: string[] = [];
          for (let q = k + 1; q < lines.length && !/^\s*```\s*$/.test(lines[q]!); q++) out.push(lines[q]!);
          expected = out.join('\n');
        }
        break;
      }
    }
    blocks.push({
      id: m[1]!,
      line: i + 1,
      skip: m[2] ?? null,
      cjs: flags.includes('cjs'),
      prelude,
      nativeExact: flags.includes('output=native-exact'),
      code: code.join('\n'),
      expected,
    });
    i = j;
  }
  return { blocks, unmarked };
}

const { blocks, unmarked } = parseReadme(readme);
const native = tg.backendInfo().backend === 'native';

/** Runs a block in a scratch project where `tensorgrad` is this checkout; check() sees its folder. */
function runBlock(b: Block, check?: (out: string, dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgrad-readme-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'tensorgrad'), 'dir');
    const file = b.cjs ? 'example.cjs' : 'example.mjs';
    writeFileSync(join(dir, file), (b.prelude ? PRELUDES[b.prelude]! : '') + b.code);
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    check?.(out, dir);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tidy = (s: string): string => s.split('\n').map((l) => l.trimEnd()).join('\n').trim();
const NUMBER = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/g;

/** Same text around the numbers, and each number within 2% of the shown one. */
function expectClose(actual: string, shown: string): void {
  expect(tidy(actual).replace(NUMBER, '#')).toBe(tidy(shown).replace(NUMBER, '#'));
  const a = [...tidy(actual).matchAll(NUMBER)].map((m) => Number(m[0]));
  const s = [...tidy(shown).matchAll(NUMBER)].map((m) => Number(m[0]));
  a.forEach((v, i) => expect(Math.abs(v - s[i]!), `number ${i + 1}: ${v} against ${s[i]}`).toBeLessThanOrEqual(0.02 * Math.abs(s[i]!) + 1e-3));
}

/** What a block's output must also mean, beyond matching the README (so that a wrong README fails too). */
const MEANING: Record<string, (out: string, dir: string) => void> = {
  'quick-start': (out, dir) => {
    const m = /^train loss (\d\.\d{3}), test accuracy (\d+\.\d)%\n$/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(0.3);
    expect(Number(m![2])).toBeGreaterThan(92);
    expect(existsSync(join(dir, 'digits.safetensors'))).toBe(true);
  },
  xor: (out) => {
    const values = [...out.matchAll(/-?\d+\.\d+/g)].map((m) => Number(m[0]));
    expect(values.map((v) => (v > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
  },
  'training-loop': (out) => {
    const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(4);
    expect(losses[3]!).toBeLessThan(losses[0]! / 2);
    expect(Number(/accuracy (\d+\.\d)%/.exec(out)![1])).toBeGreaterThan(85);
  },
  saving: (_out, dir) => expect(existsSync(join(dir, 'model.safetensors'))).toBe(true),
  charts: (_out, dir) => expect(readFileSync(join(dir, 'curves.svg'), 'utf8')).toMatch(/<svg[\s\S]*<\/svg>\s*$/),
};

describe('README.md code blocks', () => {
  it(`every js block is marked (${blocks.length} blocks: ${blocks.filter((b) => !b.skip).length} run, ${blocks.filter((b) => b.skip).length} skipped)`, () => {
    expect(unmarked, `README.md lines with an unmarked js block: ${unmarked.join(', ')}`).toEqual([]);
    expect(new Set(blocks.map((b) => b.id)).size, 'readme-test ids are unique').toBe(blocks.length);
    expect(blocks.filter((b) => b.skip).map((b) => b.id)).toEqual(EXPECTED_SKIPS);
    expect(Object.keys(MEANING).filter((id) => !blocks.some((b) => b.id === id && !b.skip))).toEqual([]);
  });

  for (const b of blocks) {
    if (b.skip) {
      it.skip(`${b.id} (line ${b.line}) is not run: ${b.skip}`, () => {});
      continue;
    }
    it(`${b.id} (line ${b.line}) runs${b.expected === null ? '' : ' and prints what the README shows'}`, () => {
      const out = runBlock(b, MEANING[b.id]);
      if (b.expected === null) return;
      if (b.nativeExact && !native) expectClose(out, b.expected);
      else expect(tidy(out)).toBe(tidy(b.expected));
    });
  }
});

it('every op the Tensors section names as both is a method and a function', () => {
  const both = [
    'add', 'sub', 'mul', 'div', 'neg', 'pow', 'sqrt', 'exp', 'log', 'abs', 'clamp',
    'relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'softmax', 'logSoftmax',
    'matmul', 'transpose', 'permute', 'reshape', 'flatten', 'squeeze', 'unsqueeze',
    'sum', 'mean', 'max', 'min', 'argmax', 'argmin', 'argmaxIndices', 'argminIndices',
    'indexSelect', 'slice',
  ];
  const lib = tg as unknown as Record<string, unknown>;
  const proto = tg.Tensor.prototype as unknown as Record<string, unknown>;
  expect(both.filter((n) => typeof lib[n] !== 'function'), 'missing as functions').toEqual([]);
  expect(both.filter((n) => typeof proto[n] !== 'function'), 'missing as methods').toEqual([]);
  for (const n of ['concat', 'stack', 'linear', 'linearRelu', 'dropout']) expect(typeof lib[n]).toBe('function');
});

it('examples/xor.mjs reaches 100% accuracy', () => {
  const out = execFileSync(process.execPath, [join(root, 'examples/xor.mjs')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(out).toContain('accuracy: 100%');
});
