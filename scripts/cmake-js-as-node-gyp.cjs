#!/usr/bin/env node
// prebuildify drives node-gyp (`node-gyp rebuild --target=… --devdir=… --release`); it has no
// cmake-js backend. Passed as prebuildify's --node-gyp, this shim takes those arguments and runs
// cmake-js instead, leaving build/Release/tensorgrad.node where prebuildify looks for the result.
// The addon targets N-API, so --target and --devdir (per-Node-version headers) do not apply:
// cmake-js builds against the node-api-headers package, with no download.
'use strict';
const { execFileSync } = require('node:child_process');

const args = process.argv.slice(2);
const debug = args.includes('--debug');
const arch = args.find((a) => a.startsWith('--arch='));
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
// 'build', not 'rebuild': incremental; CMake relinks the .node that prebuildify moved away.
const cmd = [cmakeJs, 'build', '--out', 'build'];
if (debug) cmd.push('--debug');
if (arch) cmd.push('--arch', arch.slice('--arch='.length));
execFileSync(process.execPath, cmd, {
  stdio: 'inherit',
  env: { CMAKE_BUILD_PARALLEL_LEVEL: '2', ...process.env },
});
