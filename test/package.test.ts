import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let dir = '';

/** Runs node in a scratch project where `tensorgrad` resolves to this checkout's built package. */
function node(args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('the built package (npm run build:ts)', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/esm/index.js'))) throw new Error('dist/ is missing: run `npm run build:ts` (npm test does)');
    dir = mkdtempSync(join(tmpdir(), 'tensorgrad-pkg-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'tensorgrad'), 'dir');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('imports from ESM', () => {
    writeFileSync(join(dir, 'esm.mjs'), "import { tensor, backendInfo } from 'tensorgrad';\nconsole.log(tensor([1, 2]).add(1).toString(), backendInfo().backend);\n");
    expect(node(['esm.mjs'], { TENSORGRAD_BACKEND: 'js' }).trim()).toBe('tensor([2., 3.]) js');
  });

  it('loaded both as an ES module and as CommonJS in one process: each copy works, and the second load says what happened, once', () => {
    writeFileSync(
      join(dir, 'both.mjs'),
      "import * as esm from 'tensorgrad';\nimport { createRequire } from 'node:module';\nconst cjs = createRequire(import.meta.url)('tensorgrad');\n" +
        "createRequire(import.meta.url)('tensorgrad');\n" + // a third load is the cached CommonJS copy: no second message
        "console.log(String(esm.tensor([1]).add(1)), String(cjs.tensor([2]).add(1)), esm.Tensor === cjs.Tensor);\n" +
        "try { esm.add(cjs.tensor([1]), 1); } catch (e) { console.log(e.message); }\n",
    );
    const r = spawnSync(process.execPath, ['both.mjs'], { cwd: dir, encoding: 'utf8', env: { ...process.env, TENSORGRAD_BACKEND: 'js' } });
    expect(r.status, r.stderr).toBe(0);
    const [first, error] = r.stdout.trim().split('\n');
    expect(first).toBe('tensor([2.]) tensor([3.]) false');
    expect(error).toMatch(/^add: .*Tensor from another copy of tensorgrad/);
    const said = r.stderr.match(/tensorgrad: loaded twice in this process, as an ES module \(.+dist\/esm\/index\.js\) and as CommonJS \(.+dist\/cjs\/index\.js\)/g);
    expect(said).toHaveLength(1);
  });

  it('requires from CommonJS', () => {
    writeFileSync(join(dir, 'cjs.cjs'), "const tg = require('tensorgrad');\nconsole.log(String(tg.tensor([[1, 2]]).matmul(tg.tensor([[3], [4]]))), typeof tg.Tensor);\n");
    expect(node(['cjs.cjs'], { TENSORGRAD_BACKEND: 'js' }).trim()).toBe('tensor([[11.]]) function');
  });

  it('ships type declarations that a strict TypeScript consumer can use from ESM and CJS', () => {
    writeFileSync(
      join(dir, 'use.mts'),
      "import { tensor, mlp, type Tensor } from 'tensorgrad';\nconst t: Tensor = tensor([1, 2], { requiresGrad: true });\nconst n: number = t.sum().item();\nconsole.log(n);\n" +
        "const m = mlp({ inputs: 2, hidden: [], outputs: 1 });\nconst p: Promise<Tensor> = m.predictAsync(t.reshape([1, 2]));\nvoid p;\n" +
        "{\n  using u = tensor([3]);\n  const d: boolean = u.isDisposed;\n  console.log(d);\n}\n",
    );
    writeFileSync(join(dir, 'use.cts'), "import tg = require('tensorgrad');\nconst t: tg.Tensor = tg.zeros([2]);\nconsole.log(t.shape.length);\n");
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true, types: [], skipLibCheck: false }, files: ['use.mts', 'use.cts'] }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    expect(() => node([tsc, '-p', 'tsconfig.json'])).not.toThrow();
  });
});
