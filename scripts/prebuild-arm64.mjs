// npm run prebuild:arm64: the linux-arm64 prebuild, cross-compiled on a linux-x64 machine with
// Debian's g++-aarch64-linux-gnu (cmake/aarch64-linux-gnu.cmake), into prebuilds/linux-arm64/
// under the name `npm run prebuild` (prebuildify --napi --tag-libc) gives its own build. Built by
// cmake-js in build-arm64/, so build/ keeps this machine's build; stripped like prebuildify --strip.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

//
// With --if-toolchain (how `npm run prebuild` calls it), a machine without the cross compiler gets
// one line saying that no linux-arm64 prebuild was made, and exit code 0.
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const optional = process.argv.includes('--if-toolchain');
const hasCompiler = spawnSync('sh', ['-c', 'command -v aarch64-linux-gnu-g++'], { stdio: 'ignore' }).status === 0;
if (process.platform !== 'linux' || process.arch !== 'x64' || !hasCompiler) {
  const why =
    process.platform !== 'linux' || process.arch !== 'x64'
      ? `it cross-compiles from linux-x64, and this is ${process.platform}-${process.arch}`
      : 'aarch64-linux-gnu-g++ is not installed (Debian: apt-get install g++-aarch64-linux-gnu)';
  console.error(`prebuild:arm64: no linux-arm64 prebuild made: ${why}`);
  process.exit(optional ? 0 : 1);
}
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
execFileSync(
  process.execPath,
  [cmakeJs, 'build', '--out', 'build-arm64', '--arch', 'arm64', `--CDCMAKE_TOOLCHAIN_FILE=${join(root, 'cmake', 'aarch64-linux-gnu.cmake')}`],
  { cwd: root, stdio: 'inherit', env: { CMAKE_BUILD_PARALLEL_LEVEL: '2', ...process.env } },
);
const dest = join(root, 'prebuilds', 'linux-arm64');
mkdirSync(dest, { recursive: true });
const out = join(dest, 'tensorgrad.glibc.node');
copyFileSync(join(root, 'build-arm64', 'Release', 'tensorgrad.node'), out);
execFileSync('aarch64-linux-gnu-strip', ['--strip-all', out], { stdio: 'inherit' });
console.log(`prebuild:arm64: ${out}`);
