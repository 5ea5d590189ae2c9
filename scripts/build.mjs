// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from src/ with tsc, so the package is
// importable from both module systems with type declarations for each.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
}
// Node decides a .js file's module system from the nearest package.json; ours says "module".
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{\n  "type": "commonjs"\n}\n');

// import.meta exists only in ES modules; in CommonJS the same folder comes from __dirname.
const rootJs = 'dist/cjs/backend/root.js';
const src = readFileSync(rootJs, 'utf8');
const patched = src.replace(/^const here = .*import\.meta\.url.*$/m, 'const here = __dirname;');
if (patched === src) throw new Error(`build: did not find the import.meta line to rewrite in ${rootJs}`);
writeFileSync(rootJs, patched);
