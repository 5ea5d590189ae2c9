import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { NestedArray } from '../../src/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** A PyTorch reference file from test/fixtures/ (written by scripts/fixtures/make_fixtures.py). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
}

/** |a − e| ≤ 1e-5·|e| + 1e-6·scale for every element (scale: the largest |e|, at least 1). */
export function expectClose(actual: ArrayLike<number>, expected: NestedArray, what: string): void {
  const flat: number[] = [];
  const walk = (v: NestedArray): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else flat.push(v);
  };
  walk(expected);
  expect(actual.length, what).toBe(flat.length);
  const scale = Math.max(1, ...flat.map(Math.abs));
  for (let i = 0; i < flat.length; i++) {
    const tol = 1e-5 * Math.abs(flat[i]!) + 1e-6 * scale;
    if (!(Math.abs(actual[i]! - flat[i]!) <= tol)) expect.fail(`${what}[${i}]: got ${actual[i]}, PyTorch ${flat[i]}`);
  }
}
