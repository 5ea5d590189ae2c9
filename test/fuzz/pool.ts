/**
 * Runs fuzz cases in child processes, one backend per child. A batch goes to one child, which
 * reports each outcome as it finishes; a case that takes longer than the time bound kills the
 * child (a hang, once confirmed alone with a longer bound), and a child that dies has the rest of
 * its batch re-run one case at a time, so the case that crashed it is found.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Case, FromChild, Outcome, ToChild } from './child.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/** tsx's ESM loader by URL: `--import tsx` would resolve from the children's (temporary) cwd. */
const TSX = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs')).href;

export interface PoolOptions {
  backend: 'js' | 'native';
  /** Per-case time bound in ms. */
  timeoutMs: number;
  /** Child startup bound in ms (tsx compiles the sources on first load). */
  startupMs?: number;
  /** Extra environment for the children. */
  env?: Record<string, string>;
}

interface Attempt {
  outcomes: Map<number, Outcome>;
  /** Set when the child died or was killed before reporting every case. */
  stopped?: { why: 'crash' | 'hang'; detail: string; pending: number | null };
}

export class Pool {
  private child: ChildProcess | null = null;
  private stderr = '';
  backendSeen: string | null = null;
  /** Confirmed hangs per target: after two, a target's further hangs are not re-confirmed (each costs 3 bounds). */
  private readonly hangs = new Map<string, number>();
  childrenStarted = 0;

  /** The children's working folder: junk paths like 'a' or '0' are written here, not in the checkout. */
  private readonly cwd = mkdtempSync(join(tmpdir(), 'tensorgrad-fuzz-cwd-'));

  constructor(private readonly o: PoolOptions) {}

  private async start(): Promise<ChildProcess> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    this.stderr = '';
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.o.env, TENSORGRAD_BACKEND: this.o.backend };
    delete env['NODE_OPTIONS'];
    const child = fork(CHILD, [], {
      execArgv: ['--import', TSX, '--no-warnings'],
      env,
      cwd: this.cwd,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.childrenStarted++;
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fuzz child (${this.o.backend}) did not start in ${this.o.startupMs ?? 60000} ms: ${this.stderr}`)), this.o.startupMs ?? 60000);
      const onMsg = (m: FromChild): void => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.backendSeen = m.backend;
          child.off('message', onMsg);
          resolve();
        }
      };
      child.on('message', onMsg);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`fuzz child (${this.o.backend}) exited during startup (${code ?? sig}): ${this.stderr}`));
      });
    });
    this.child = child;
    return child;
  }

  private kill(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child = null;
  }

  close(): void {
    this.kill();
    rmSync(this.cwd, { recursive: true, force: true });
  }

  /** Sends the cases to one child and collects what it reports until it is done, dies or hangs. */
  private async attempt(cases: Case[], timeoutMs: number): Promise<Attempt> {
    const child = await this.start();
    const outcomes = new Map<number, Outcome>();
    return new Promise<Attempt>((resolve) => {
      let timer: NodeJS.Timeout;
      let uncaught: string | null = null;
      const finish = (a: Attempt): void => {
        clearTimeout(timer);
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(a);
      };
      const pending = (): number | null => cases.find((c) => !outcomes.has(c.id))?.id ?? null;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.kill();
          finish({ outcomes, stopped: { why: 'hang', detail: `no answer in ${timeoutMs} ms`, pending: pending() } });
        }, timeoutMs);
      };
      const onMsg = (m: FromChild): void => {
        if (m.type === 'outcome') {
          outcomes.set(m.id, m.outcome);
          arm();
        } else if (m.type === 'uncaught') {
          uncaught = m.message;
        } else if (m.type === 'done') {
          finish({ outcomes });
        }
      };
      const onExit = (code: number | null, sig: NodeJS.Signals | null): void => {
        this.child = null;
        // Give the stderr pipe a moment to deliver the dying words ("terminate called …").
        setTimeout(() => {
          const detail = `${uncaught ?? `child exited (${sig ?? `code ${code}`})`}${this.stderr ? `; stderr: ${this.stderr.trim().slice(-600)}` : ''}`;
          finish({ outcomes, stopped: { why: 'crash', detail, pending: pending() } });
        }, 50);
      };
      child.on('message', onMsg);
      child.on('exit', onExit);
      arm();
      child.send({ type: 'run', cases } satisfies ToChild);
    });
  }

  /** Outcome of every case: a batch at once, falling back to one at a time after a crash. */
  async run(cases: Case[]): Promise<Map<number, Outcome>> {
    const out = new Map<number, Outcome>();
    let rest = cases;
    while (rest.length > 0) {
      const a = await this.attempt(rest, this.o.timeoutMs);
      for (const [id, o] of a.outcomes) out.set(id, o);
      if (!a.stopped) break;
      const left = rest.filter((c) => !out.has(c.id));
      if (a.stopped.why === 'hang') {
        // The case being run is known exactly: confirm it alone with a longer bound (a loaded
        // machine can stall a quick case), then carry on with the rest of the batch.
        const suspect = left[0]!;
        const seen = this.hangs.get(suspect.target) ?? 0;
        const again = seen >= 2 ? null : await this.attempt([suspect], this.o.timeoutMs * 3);
        const o: Outcome = again?.outcomes.get(suspect.id) ?? (again?.stopped?.why === 'crash' ? { kind: 'crash', detail: again.stopped.detail } : { kind: 'hang', ms: again ? this.o.timeoutMs * 3 : this.o.timeoutMs });
        if (o.kind === 'hang') this.hangs.set(suspect.target, seen + 1);
        out.set(suspect.id, o);
        rest = left.slice(1);
      } else {
        // Outcomes sent just before the death may be lost: re-run what is left one by one.
        for (const c of left) {
          const one = await this.attempt([c], this.o.timeoutMs * 3);
          const o = one.outcomes.get(c.id);
          if (o) out.set(c.id, o);
          else if (one.stopped?.why === 'hang') out.set(c.id, { kind: 'hang', ms: this.o.timeoutMs * 3 });
          else out.set(c.id, { kind: 'crash', detail: one.stopped?.detail ?? 'child died' });
        }
        rest = [];
      }
    }
    return out;
  }
}
