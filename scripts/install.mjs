// npm's install hook. It never fails the install, and it stays quiet: without a native addon the
// library runs on its pure-TypeScript backend (and says so once when it is imported).
//  - In a git checkout (a developer's clone): build the prebuild, prebuilds/<platform>-<arch>/,
//    with prebuildify driving cmake-js (`npm run prebuild`; incremental), so a clone runs on
//    exactly what `npm pack` ships.
//  - In an installed package: use a prebuild or an earlier build if one loads. Otherwise build
//    build/Release/ from the shipped sources, but only when the toolchain is there: cmake-js and
//    node-addon-api (optional peer dependencies, so users who get a prebuild never download them),
//    CMake and a C++ compiler. Missing any of them, or failing, prints one line, not a build log.
// TENSORGRAD_SKIP_NATIVE_BUILD=1 skips building; TENSORGRAD_VERBOSE_BUILD=1 shows the build's output.
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

const verbose = Boolean(process.env.TENSORGRAD_VERBOSE_BUILD);

/** Runs node with `args`; null on success, else one line on what failed. Quiet unless `loud`. */
function run(args, loud) {
  try {
    execFileSync(process.execPath, args, {
      cwd: root,
      stdio: loud ? 'inherit' : 'pipe',
      env: { CMAKE_BUILD_PARALLEL_LEVEL: '2', ...process.env },
    });
    return null;
  } catch (e) {
    // The most telling line of a quiet build's output: its first error, else the exit status.
    const out = `${e?.stdout ?? ''}\n${e?.stderr ?? ''}`;
    const line = out.split('\n').find((l) => /error/i.test(l));
    return (line ?? (e instanceof Error ? e.message.split('\n')[0] : String(e))).trim().slice(0, 200);
  }
}

/** Whether `cmd --version` runs (a tool on PATH). */
function hasTool(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What a source build lacks here, or null when it can be tried. */
function missingToolchain() {
  const missing = [];
  for (const pkg of ['cmake-js', 'node-addon-api']) {
    try {
      require.resolve(`${pkg}/package.json`);
    } catch {
      missing.push(`the ${pkg} package`);
    }
  }
  if (!hasTool('cmake')) missing.push('CMake');
  const cxx = process.env.CXX;
  if (!(cxx ? hasTool(cxx) : hasTool('c++') || hasTool('g++') || hasTool('clang++'))) missing.push('a C++17 compiler');
  return missing.length ? missing : null;
}

function prebuild() {
  let bin;
  try {
    bin = require.resolve('prebuildify/bin.js');
  } catch {
    return 'prebuildify is not installed';
  }
  return run([bin, '--napi', '--tag-libc', '--strip', '--node-gyp', join(root, 'scripts/cmake-js-as-node-gyp.cjs')], true);
}

function build() {
  let cmakeJs;
  try {
    cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    return 'cmake-js is not installed';
  }
  return run([cmakeJs, 'build', '--out', 'build'], verbose);
}

const devCheckout = existsSync(join(root, '.git'));
const platform = `${process.platform}-${process.arch}`;
const fallback = 'the pure TypeScript backend will be used (same API, slower)';
if (process.env.TENSORGRAD_SKIP_NATIVE_BUILD) {
  console.log('tensorgrad: TENSORGRAD_SKIP_NATIVE_BUILD is set; not building the native addon');
} else if (!devCheckout && loads()) {
  console.log('tensorgrad: using the prebuilt native addon');
} else if (!existsSync(join(root, 'CMakeLists.txt'))) {
  console.log(`tensorgrad: no native sources; ${fallback}`);
} else if (!devCheckout && missingToolchain() !== null) {
  console.log(
    `tensorgrad: no prebuilt native addon loads on ${platform}, and building one needs ${missingToolchain().join(', ')}; ${fallback}. ` +
      'To build it: install CMake and a C++17 compiler, `npm install cmake-js node-addon-api`, then `npm rebuild tensorgrad`.',
  );
} else {
  const err = devCheckout ? prebuild() : build();
  if (err === null && loads()) console.log('tensorgrad: native addon built');
  else {
    console.warn(
      `tensorgrad: could not build the native addon (${err ?? 'it built but does not load'}); ${fallback}` +
        (verbose || devCheckout ? '' : '. TENSORGRAD_VERBOSE_BUILD=1 npm rebuild tensorgrad shows the build log.'),
    );
  }
}
