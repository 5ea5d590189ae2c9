import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Terminating a worker_thread while it runs native ops once aborted the whole process (a C++
// exception escaping the addon during environment teardown). Each run happens in a child process
// so that an abort fails the test instead of killing the test runner. The child inherits
// TENSORGRAD_BACKEND, so CI runs this once per backend.
const script = join(dirname(fileURLToPath(import.meta.url)), 'helpers/worker-stress.mjs');

function run(args: string[]): { status: number | null; signal: NodeJS.Signals | null; out: string } {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

describe('worker termination', () => {
  // 240 terminations in all: 80 mid broadcasting add, 70 mid training step, 50 while loading, 40
  // with predictAsync batches running on libuv threads.
  it.each([
    ['add', 80],
    ['train', 70],
    ['load', 50],
    ['predictAsync', 40],
  ])('terminating %s workers mid-op %i times never aborts the process', (mode, n) => {
    const r = run(['terminate', String(mode), String(n)]);
    expect(r.out).not.toMatch(/terminate called|Aborted|FATAL ERROR/);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop() ?? '{}')).toEqual({ terminated: n });
  });

  it('process.exit() while three workers compute (one with predictAsync in flight), 20 times: always exit code 0', () => {
    const codes: (number | string)[] = [];
    for (let i = 0; i < 20; i++) {
      const r = run(['exit']);
      expect(r.out).toContain('"exiting":true');
      codes.push(r.signal ?? r.status ?? 'none');
    }
    expect(codes).toEqual(new Array(20).fill(0));
  });
});
