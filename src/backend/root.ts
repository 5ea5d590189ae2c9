import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// scripts/build.mjs rewrites this line in dist/cjs, where import.meta does not exist.
// @ts-ignore -- import.meta is an error under the CommonJS build's module setting, valid in ESM.
const here: string = dirname(fileURLToPath(import.meta.url));

/** The package's root folder (holding package.json, prebuilds/ and build/), from src/backend or dist/<format>/backend. */
export function packageRoot(): string {
  return here.endsWith(join('src', 'backend')) ? join(here, '..', '..') : join(here, '..', '..', '..');
}

/** A synchronous require that resolves from this package, for dependencies loaded on first use. */
export const packageRequire: NodeJS.Require = createRequire(join(here, 'root.js'));
