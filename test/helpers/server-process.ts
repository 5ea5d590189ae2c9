import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(root, 'examples/server/server.mjs');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the server wrote so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code (rejects after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

/**
 * Starts examples/server/server.mjs as a child process on a free loopback port, on the given
 * backend, and resolves once it prints "listening on http://…". The server imports the package
 * by name, i.e. this checkout's dist/, so dist/ must be built.
 */
export function startServer(args: string[], backend: string, timeoutMs = 20_000): Promise<ServerProcess> {
  if (!existsSync(join(root, 'dist/esm/index.js'))) throw new Error('dist/ is missing: run `npm run build:ts` (npm test does)');
  const child = spawn(process.execPath, [script, '--port', '0', ...args], {
    cwd: root,
    env: { ...process.env, TENSORGRAD_BACKEND: backend },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const stop = async (ms = 10_000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`server did not exit within ${ms} ms of SIGTERM`)), ms)));
    try {
      return await Promise.race([exited, late]);
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not report "listening on" within ${timeoutMs} ms\n--- stdout\n${out}\n--- stderr\n${err}`));
    }, timeoutMs);
    const onData = (): void => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolvePromise({ child, url: m[1]!, stdout: () => out, stderr: () => err, stop });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before listening\n--- stdout\n${out}\n--- stderr\n${err}`));
    });
  });
}
