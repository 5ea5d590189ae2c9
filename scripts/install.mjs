// npm's install hook. It never fails the install: without a native addon the library runs on its
// pure-TypeScript backend (and says so once at run time).
//  - In a git checkout (a developer's clone): build the prebuild, prebuilds/<platform>-<arch>/,
//    with prebuildify driving cmake-js (`npm run prebuild`; incremental), so a clone runs on
//    exactly what `npm pack` ships.
//  - In an installed package: use a prebuild or an earlier build if one loads; otherwise build
//    build/Release/ from the shipped sources with cmake-js.
// TENSORGRAD_SKIP_NATIVE_BUILD=1 skips building.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function loads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

function run(args) {
  try {
    execFileSync(process.execPath, args, {
      cwd: root,
      stdio: 'inherit',
      env: { CMAKE_BUILD_PARALLEL_LEVEL: '2', ...process.env },
    });
    return null;
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
}

function prebuild() {
  let bin;
  try {
    bin = require.resolve('prebuildify/bin.js');
  } catch {
    return 'prebuildify is not installed';
  }
  return run([bin, '--napi', '--tag-libc', '--strip', '--node-gyp', join(root, 'scripts/cmake-js-as-node-gyp.cjs')]);
}

function build() {
  let cmakeJs;
  try {
    cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    return 'cmake-js is not installed';
  }
  return run([cmakeJs, 'build', '--out', 'build']);
}

const devCheckout = existsSync(join(root, '.git'));
if (process.env.TENSORGRAD_SKIP_NATIVE_BUILD) {
  console.log('tensorgrad: TENSORGRAD_SKIP_NATIVE_BUILD is set; not building the native addon');
} else if (!devCheckout && loads()) {
  console.log('tensorgrad: using the prebuilt native addon');
} else if (!existsSync(join(root, 'CMakeLists.txt'))) {
  console.log('tensorgrad: no native sources; the pure TypeScript backend will be used');
} else {
  const err = devCheckout ? prebuild() : build();
  if (err === null && loads()) console.log('tensorgrad: native addon built');
  else console.warn(`tensorgrad: could not build the native addon (${err ?? 'it built but does not load'}); the pure TypeScript backend will be used`);
}
