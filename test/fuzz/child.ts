/**
 * The fuzz child: a separate process (so a native abort cannot take the test runner with it) that
 * runs cases on the backend TENSORGRAD_BACKEND names and reports each outcome as soon as it has it.
 * Started by pool.ts with `node --import tsx`, talking over IPC with structured-clone serialization.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tg from '../../src/index.js';
import { type Built, type Spec, build, summarize } from './spec.js';
import { TARGETS } from './targets.js';

export interface Case {
  id: number;
  target: string;
  args: Spec[];
  seed: number;
}

export type Outcome =
  | { kind: 'result'; summary: ReturnType<typeof summarize>; poison: string[] }
  | { kind: 'error'; isError: boolean; ctor: string; message: string; poison: string[]; where: string | null }
  | { kind: 'unbuildable'; message: string }
  | { kind: 'crash'; detail: string }
  | { kind: 'hang'; ms: number };

export type ToChild = { type: 'run'; cases: Case[] };
export type FromChild =
  | { type: 'ready'; backend: string }
  | { type: 'outcome'; id: number; outcome: Outcome }
  | { type: 'done' }
  | { type: 'uncaught'; id: number | null; message: string };

const send = (m: FromChild): void => {
  process.send!(m);
};

const byName = new Map(TARGETS.map((t) => [t.name, t]));
const tmp = mkdtempSync(join(tmpdir(), 'tensorgrad-fuzz-'));
let current: number | null = null;
/** Set by an uncaught exception: the process is about to exit, and the case in progress gets no outcome. */
let dying = false;

/** The library file (src/…) nearest the throw: where a vague error needs its fix. */
function thrownFrom(e: Error): string | null {
  const m = /\/(src\/[\w/.-]+\.ts)/.exec(e.stack ?? '');
  return m ? m[1]! : null;
}

function describeThrown(e: unknown): { isError: boolean; ctor: string; message: string; where: string | null } {
  try {
    if (e instanceof Error) return { isError: true, ctor: e.constructor.name, message: String(e.message), where: thrownFrom(e) };
    return { isError: false, ctor: typeof e, message: typeof e === 'symbol' ? e.toString() : String(e), where: null };
  } catch {
    return { isError: false, ctor: typeof e, message: '(unprintable)', where: null };
  }
}

function fatal(message: string): void {
  dying = true;
  send({ type: 'uncaught', id: current, message });
  // An uncaught exception kills a real server too: report it as this case's crash.
  setImmediate(() => process.exit(70));
}
process.on('uncaughtException', (e) => fatal(`uncaught exception: ${describeThrown(e).message}`));
process.on('unhandledRejection', (e) => fatal(`unhandled rejection: ${describeThrown(e).message}`));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function runCase(c: Case): Promise<Outcome> {
  const target = byName.get(c.target);
  if (!target) return { kind: 'unbuildable', message: `no target ${c.target}` };
  tg.manualSeed(c.seed);
  const ctx: Built = { poison: [], tmp };
  let args: unknown[];
  try {
    args = c.args.map((s) => build(s, ctx));
  } catch (e) {
    return { kind: 'unbuildable', message: describeThrown(e).message };
  }
  tg.manualSeed(c.seed);
  try {
    let r = target.call(...args);
    if (r instanceof Promise) r = await r;
    // Let callbacks the call scheduled run now, so an exception thrown from one is this case's.
    await new Promise((resolve) => setImmediate(resolve));
    let summary: ReturnType<typeof summarize>;
    try {
      summary = summarize(r);
    } catch (e) {
      summary = { k: 'str', len: 0, text: `summary threw: ${describeThrown(e).message}` };
    }
    return { kind: 'result', summary, poison: ctx.poison };
  } catch (e) {
    return { kind: 'error', ...describeThrown(e), poison: ctx.poison };
  }
}

process.on('message', (m: ToChild) => {
  if (m.type !== 'run') return;
  void (async () => {
    for (const c of m.cases) {
      current = c.id;
      const outcome = await runCase(c);
      if (dying) return;
      send({ type: 'outcome', id: c.id, outcome });
    }
    current = null;
    send({ type: 'done' });
  })();
});

send({ type: 'ready', backend: tg.backendInfo().backend });
