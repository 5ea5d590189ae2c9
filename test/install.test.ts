import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const hasPrebuild = existsSync(prebuildDir) && readdirSync(prebuildDir).some((f) => f.endsWith('.node'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// .ci/run fails when `npm install` left no prebuild, so this cannot be skipped unnoticed in CI.
describe.runIf(hasPrebuild)('the npm pack tarball, installed with --ignore-scripts into an empty project (needs prebuilds/, which npm install builds)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgrad-install-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const probe = "const tg = require('tensorgrad'); tg.tensor([1, 2]).add(1); console.log(JSON.stringify(tg.backendInfo()));";
  const run = () => {
    const env = { ...process.env };
    delete env['TENSORGRAD_BACKEND'];
    const r = spawnSync(process.execPath, ['-e', probe], { cwd: dir, env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return { info: JSON.parse(r.stdout) as { backend: string }, stderr: r.stderr };
  };

  it('loads the shipped prebuild, and without it falls back to js with exactly one warning and GEMM workers that start', () => {
    // --ignore-scripts: pack what is built now (npm test built dist/) without rebuilding it under
    // the feet of the other test files.
    const tarball = execFileSync(npm, ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
    const listing = execFileSync('tar', ['-tzf', join(dir, tarball)], { encoding: 'utf8' });
    expect(listing).toMatch(/package\/prebuilds\/.+\.node/);
    expect(listing).not.toMatch(/package\/build\//);
    expect(listing).not.toMatch(/package\/native\/tests\//);

    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], { cwd: dir, stdio: 'pipe' });

    const withPrebuild = run();
    expect(withPrebuild.info.backend).toBe('native');
    expect(withPrebuild.stderr).not.toMatch(/tensorgrad/);

    // The installed package as each kind of consumer uses it: an ES module, a strict TypeScript
    // project (ESM and CommonJS files, its own tsc from this checkout, no @types), and a program
    // that loads both entries (which works per copy and says so once).
    const consumer = (file: string, text: string): void => writeFileSync(join(dir, file), text);
    const env = { ...process.env };
    delete env['TENSORGRAD_BACKEND']; // CI also runs the suite with the TS backend forced
    consumer('esm.mjs', "import { tensor, mlp, predictAsync, backendInfo } from 'tensorgrad';\nconst out = await predictAsync(mlp({ inputs: 2, hidden: [], outputs: 1 }), tensor([[1, 2]]));\nconsole.log(out.shape.join('x'), backendInfo().backend);\n");
    const esm = spawnSync(process.execPath, ['esm.mjs'], { cwd: dir, encoding: 'utf8', env });
    expect(esm.stdout.trim(), esm.stderr).toBe('1x1 native');
    consumer('use.mts', "import { tensor, type Tensor } from 'tensorgrad';\nconst t: Tensor = tensor([1, 2], { requiresGrad: true });\n{\n  using u = tensor([3]);\n  console.log(t.sum().item() + u.item());\n}\n");
    consumer('use.cts', "import tg = require('tensorgrad');\nconst t: tg.Tensor = tg.zeros([2]);\nconsole.log(t.shape.length);\n");
    consumer('tsconfig.json', JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true, types: [], skipLibCheck: false }, files: ['use.mts', 'use.cts'] }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    consumer('both.mjs', "import * as esm from 'tensorgrad';\nimport { createRequire } from 'node:module';\nconst cjs = createRequire(import.meta.url)('tensorgrad');\nconsole.log(String(esm.ones([1])), String(cjs.ones([1])));\n");
    const both = spawnSync(process.execPath, ['both.mjs'], { cwd: dir, encoding: 'utf8', env });
    expect(both.stdout.trim(), both.stderr).toBe('tensor([1.]) tensor([1.])');
    expect(both.stderr.match(/tensorgrad: loaded twice in this process/g)).toHaveLength(1);

    rmSync(join(dir, 'node_modules/tensorgrad/prebuilds'), { recursive: true, force: true });
    const without = run();
    expect(without.info.backend).toBe('js');
    expect(without.stderr.match(/tensorgrad: native addon not available/g)).toHaveLength(1);
    // Said when the library is imported, before the program's own synchronous work, not after it.
    const order = spawnSync(process.execPath, ['-e', "require('tensorgrad'); process.stderr.write('MARK\\n'); void require('tensorgrad').ones([2]).sum();"], {
      cwd: dir,
      env: { ...process.env, TENSORGRAD_BACKEND: '' },
      encoding: 'utf8',
    });
    expect(order.stderr.indexOf('tensorgrad: native addon not available')).toBeGreaterThanOrEqual(0);
    expect(order.stderr.indexOf('tensorgrad: native addon not available')).toBeLessThan(order.stderr.indexOf('MARK'));

    // The TypeScript backend's GEMM workers start from the installed package (they run its
    // dist/esm build, here from a CommonJS consumer) and split a product with the one-thread bits.
    const gemmThreads = join(dir, 'node_modules/tensorgrad/dist/cjs/backend/js/gemm-threads.js');
    const split = spawnSync(
      process.execPath,
      [
        '-e',
        `const tg = require('tensorgrad'); const gt = require(${JSON.stringify(gemmThreads)});
        tg.setNumThreads(2);
        gt.jsThreadsReady().then((ready) => {
          tg.manualSeed(3);
          const a = tg.randn([128, 256]), b = tg.randn([256, 300]);
          const before = gt._jsGemmSplits();
          const two = new Uint32Array(a.matmul(b).data.slice().buffer);
          const splits = gt._jsGemmSplits() - before;
          tg.setNumThreads(1);
          const one = new Uint32Array(a.matmul(b).data.slice().buffer);
          console.log(JSON.stringify({ ready, splits, same: two.every((v, i) => v === one[i]) }));
        });`,
      ],
      { cwd: dir, env: { ...process.env, TENSORGRAD_BACKEND: '' }, encoding: 'utf8' },
    );
    expect(split.status, split.stderr).toBe(0);
    expect(JSON.parse(split.stdout)).toEqual({ ready: true, splits: 1, same: true });
    expect(split.stderr).not.toMatch(/GEMM/);

    // The install hook on a machine with no compiler or CMake (an empty PATH): it must finish
    // with exit code 0 and say the TypeScript backend will be used.
    const pkg = join(dir, 'node_modules/tensorgrad');
    const hook = spawnSync(process.execPath, ['scripts/install.mjs'], { cwd: pkg, env: { ...process.env, PATH: dir }, encoding: 'utf8' });
    expect(hook.status, hook.stderr).toBe(0);
    // One line, no build log: what is missing, what happens, and how to build it.
    const said = (hook.stderr + hook.stdout).trim();
    expect(said.split('\n')).toHaveLength(1);
    expect(said).toMatch(/^tensorgrad: no prebuilt native addon loads on .+building one needs .*CMake.*; the pure TypeScript backend will be used.*npm rebuild tensorgrad/);
  }, 180_000);
});
