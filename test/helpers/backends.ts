import { describe, beforeAll, afterAll } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { availableBackends, getBackend, setBackend } from '../../src/backend/index.js';

/**
 * Runs a suite once per backend: every backend this process can load, or only the one named by
 * TENSORGRAD_BACKEND when it is set (CI runs the suite once per backend that way). Inside the
 * suite the chosen backend is also the global one, so tensor-level ops run on it.
 */
export function describeBackends(name: string, fn: (backend: () => Backend) => void): void {
  for (const b of availableBackends()) {
    describe(`${name} [${b.name}]`, () => {
      let previous: Backend;
      beforeAll(() => {
        previous = getBackend();
        setBackend(b);
      });
      afterAll(() => setBackend(previous));
      fn(() => b);
    });
  }
}
