import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { backendInfo } from '../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The code block that follows a marker comment in README.md. */
function readmeBlock(marker: string): string {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const at = md.indexOf(`<!-- ${marker}`);
  if (at < 0) throw new Error(`README.md has no <!-- ${marker} --> block`);
  const m = /```js\n([\s\S]*?)```/.exec(md.slice(at));
  if (!m) throw new Error(`no js code block after <!-- ${marker} -->`);
  return m[1]!;
}

/** Runs a README block as an ES module in a scratch project where `tensorgrad` is this checkout. */
function runBlock(marker: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgrad-readme-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'tensorgrad'), 'dir');
    writeFileSync(join(dir, 'example.mjs'), readmeBlock(marker));
    return execFileSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it("README's XOR example runs against the built package and learns XOR", () => {
  const out = runBlock('xor-example');
  const values = [...out.matchAll(/-?\d+\.\d+/g)].map((m) => Number(m[0]));
  expect(values).toHaveLength(4);
  expect(values.map((v) => (v > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
  // The README also shows the exact output; keep it in step with what the code prints.
  expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(out.trim());
});

it("README's layers example runs and prints a summary", () => {
  expect(runBlock('layers-example')).toContain('Total params: 101,770');
});

it("README's fit example trains on the embedded digits and saves the model", () => {
  const out = runBlock('fit-example');
  const m = /^train loss (\d\.\d{3}), test accuracy (\d+\.\d)%\n$/.exec(out);
  expect(m, out).not.toBeNull();
  expect(Number(m![1])).toBeLessThan(0.3);
  expect(Number(m![2])).toBeGreaterThan(93);
  // The README shows what the native backend prints; keep it in step.
  if (backendInfo().backend === 'native') expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(out.trim());
});

it("README's training loop runs and learns the blobs", () => {
  const out = runBlock('training-example');
  const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  expect(losses).toHaveLength(4);
  expect(losses[3]!).toBeLessThan(losses[0]! / 2);
  const acc = Number(/accuracy (\d+\.\d)%/.exec(out)![1]);
  expect(acc).toBeGreaterThan(85);
});

it('examples/xor.mjs reaches 100% accuracy', () => {
  const out = execFileSync(process.execPath, [join(root, 'examples/xor.mjs')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(out).toContain('accuracy: 100%');
});
