/**
 * Generates the cases (seeded), runs them on every backend in child processes, classifies each
 * outcome and collects the failures: crashes, hangs, vague errors, backends that disagree, and
 * broken inputs (detached buffers, wrong-shaped grads, fake tensors) accepted without an error.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Case, Outcome } from './child.js';
import { Pool } from './pool.js';
import { diff, showSpec } from './spec.js';
import { TARGETS, type Target } from './targets.js';

export type Backend = 'js' | 'native';
export const CATEGORIES = ['clear error', 'vague error', 'result', 'crash', 'hang', 'skipped'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface FuzzConfig {
  seed: number;
  /** Cases per target (scaled by each target's weight). */
  runs: number;
  timeoutMs: number;
  batchSize: number;
  backends: Backend[];
  /** Only targets whose name matches. */
  only?: RegExp;
}

export interface Failure {
  cause: string;
  target: string;
  backend: string;
  detail: string;
  repro: string;
  /** The source file that needs the fix (best guess: where a vague error was thrown, else the export's file). */
  file: string;
}

export interface FuzzReport {
  config: FuzzConfig;
  backendsRun: Backend[];
  notes: string[];
  cases: number;
  counts: Record<string, Record<Category, number>>;
  failures: Failure[];
  seconds: number;
  childrenStarted: number;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let definedIn: Map<string, string> | null = null;

/** Which src file defines each exported name. */
function definitions(): Map<string, string> {
  if (definedIn) return definedIn;
  definedIn = new Map();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/^export (?:async )?(?:abstract )?(?:function\*?|class|const) (\w+)/gm)) {
          if (!definedIn!.has(m[1]!)) definedIn!.set(m[1]!, relative(ROOT, p));
        }
      }
    }
  };
  walk(join(ROOT, 'src'));
  return definedIn;
}

export function sourceFileOf(target: string, o?: Outcome): string {
  if (o && o.kind === 'error' && o.where) return o.where;
  const defs = definitions();
  if (target.startsWith('init.')) return 'src/nn/init.ts';
  const m = /^(?:new )?(\w+)(?:[#.](\w+))?/.exec(target);
  if (!m) return '?';
  const [, cls, member] = m;
  if (cls === 'Tensor' && member && defs.has(member)) return defs.get(member)!;
  return defs.get(cls!) ?? '?';
}

/** FNV-1a: a stable per-target seed, so adding a target does not reshuffle the others' cases. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function configFromEnv(): FuzzConfig {
  const env = process.env;
  const seed = env['FUZZ_SEED'] === 'random' ? (Math.random() * 2 ** 31) | 0 : Number(env['FUZZ_SEED'] ?? 20240808);
  return {
    seed,
    runs: Number(env['FUZZ_RUNS'] ?? 150),
    timeoutMs: Number(env['FUZZ_TIMEOUT_MS'] ?? 2000),
    batchSize: Number(env['FUZZ_BATCH'] ?? 400),
    // TENSORGRAD_BACKEND=js (a run without the addon) fuzzes the TS backend alone, uncompared.
    backends: (env['FUZZ_BACKENDS'] ?? (env['TENSORGRAD_BACKEND'] === 'js' ? 'js' : 'native,js')).split(',').filter((b): b is Backend => b === 'js' || b === 'native'),
    only: env['FUZZ_ONLY'] ? new RegExp(env['FUZZ_ONLY']) : undefined,
  };
}

export function makeCases(cfg: FuzzConfig): { cases: Case[]; targets: Map<string, Target> } {
  const cases: Case[] = [];
  const targets = new Map<string, Target>();
  let id = 0;
  for (const t of TARGETS) {
    if (cfg.only && !cfg.only.test(t.name)) continue;
    targets.set(t.name, t);
    const n = Math.max(1, Math.round(cfg.runs * (t.weight ?? 1)));
    const s = (cfg.seed ^ hash(t.name)) >>> 0;
    const samples = fc.sample(t.args, { seed: s, numRuns: n });
    samples.forEach((args, i) => cases.push({ id: id++, target: t.name, args, seed: (s + i) % 2 ** 31 }));
  }
  return { cases, targets };
}

/** An Error whose message names the op is clear; anything else thrown is vague. */
export function categorize(o: Outcome, t: Target): Category {
  switch (o.kind) {
    case 'result':
      return 'result';
    case 'error':
      // Case-insensitive: 'confusionMatrix: …' names ConfusionMatrix#update.
      return o.isError && t.names.some((n) => o.message.toLowerCase().includes(n.toLowerCase())) ? 'clear error' : 'vague error';
    case 'crash':
      return 'crash';
    case 'hang':
      return 'hang';
    case 'unbuildable':
      return 'skipped';
  }
}

export function repro(c: Case): string {
  return `${c.target}(${c.args.map(showSpec).join(', ')})`;
}

function brief(o: Outcome): string {
  switch (o.kind) {
    case 'result':
      return 'returned';
    case 'error':
      return `threw ${o.isError ? o.ctor : `non-Error ${o.ctor}`}: ${o.message.slice(0, 200)}`;
    case 'crash':
      return `crashed: ${o.detail.slice(0, 300)}`;
    case 'hang':
      return `hung (> ${o.ms} ms)`;
    case 'unbuildable':
      return `inputs could not be built: ${o.message}`;
  }
}

export async function runFuzz(cfg: FuzzConfig): Promise<FuzzReport> {
  const t0 = Date.now();
  const { cases, targets } = makeCases(cfg);
  const notes: string[] = [];
  const pools = new Map<Backend, Pool>(cfg.backends.map((b) => [b, new Pool({ backend: b, timeoutMs: cfg.timeoutMs })]));
  const results = new Map<Backend, Map<number, Outcome>>();
  try {
    await Promise.all(
      [...pools].map(async ([b, pool]) => {
        const all = new Map<number, Outcome>();
        for (let i = 0; i < cases.length; i += cfg.batchSize) {
          for (const [id, o] of await pool.run(cases.slice(i, i + cfg.batchSize))) all.set(id, o);
        }
        results.set(b, all);
      }),
    );
  } finally {
    for (const p of pools.values()) p.close();
  }
  const native = pools.get('native');
  const backendsRun = cfg.backends.filter((b) => b !== 'native' || native?.backendSeen === 'native');
  if (native && native.backendSeen !== 'native') notes.push(`native addon not loadable (the child ran '${native.backendSeen}'): native cases dropped`);

  const counts: Record<string, Record<Category, number>> = {};
  for (const b of backendsRun) counts[b] = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const failures: Failure[] = [];
  for (const c of cases) {
    const t = targets.get(c.target)!;
    const outs = backendsRun.map((b) => [b, results.get(b)!.get(c.id)!] as const);
    const skipped = outs.some(([, o]) => o.kind === 'unbuildable');
    const fail = (cause: string, backend: string, detail: string, o?: Outcome): void => {
      failures.push({ cause, target: c.target, backend, detail, repro: repro(c), file: sourceFileOf(c.target, o) });
    };
    for (const [b, o] of outs) {
      const cat = skipped ? 'skipped' : categorize(o, t);
      counts[b]![cat]++;
      if (skipped) continue;
      if (cat === 'crash' || cat === 'hang' || cat === 'vague error') fail(cat, b, brief(o), o);
      if (o.kind === 'result' && o.poison.length > 0 && !t.poisonOk) fail('broken input accepted', b, `returned normally given a ${[...new Set(o.poison)].join(' and a ')}`);
    }
    if (skipped || outs.length < 2) continue;
    const [[b1, o1], [b2, o2]] = outs as unknown as [[Backend, Outcome], [Backend, Outcome]];
    const ok1 = o1.kind === 'result';
    const ok2 = o2.kind === 'result';
    if (ok1 !== ok2 && (o1.kind === 'result' || o1.kind === 'error') && (o2.kind === 'result' || o2.kind === 'error')) {
      fail('backends disagree', 'both', `${b1} ${brief(o1)}; ${b2} ${brief(o2)}`);
    } else if (o1.kind === 'result' && o2.kind === 'result' && t.compare !== false) {
      const d = diff(o1.summary, o2.summary, t.strings !== false);
      if (d) fail('results differ', 'both', `${b1} vs ${b2}: ${d}`);
    }
  }
  return {
    config: cfg,
    backendsRun,
    notes,
    cases: cases.length,
    counts,
    failures,
    seconds: (Date.now() - t0) / 1000,
    childrenStarted: [...pools.values()].reduce((a, p) => a + p.childrenStarted, 0),
  };
}

/** The categories table, one row per backend. */
export function table(r: FuzzReport): string {
  const head = `| backend | ${CATEGORIES.join(' | ')} |`;
  const sep = `|---|${CATEGORIES.map(() => '---:').join('|')}|`;
  const rows = Object.entries(r.counts).map(([b, c]) => `| ${b} | ${CATEGORIES.map((k) => c[k]).join(' | ')} |`);
  return [head, sep, ...rows].join('\n');
}

/**
 * Failures grouped by the file that needs the fix, then by cause; cases that fail the same way
 * (same target, same message up to numbers) on either backend are one line with a count.
 */
export function groupedFailures(r: FuzzReport, limit = Infinity): string {
  const groups = new Map<string, { f: Failure; n: number; backends: Set<string> }>();
  for (const f of r.failures) {
    const key = `${f.file}|${f.cause}|${f.target}|${f.detail.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '#').replace(/\/tmp\/\S+/g, 'TMP').slice(0, 100)}`;
    const g = groups.get(key);
    if (g) {
      if (g.backends.has(f.backend)) g.n++;
      g.backends.add(f.backend);
    } else groups.set(key, { f, n: 1, backends: new Set([f.backend]) });
  }
  const sorted = [...groups.values()].sort((a, b) => a.f.file.localeCompare(b.f.file) || a.f.cause.localeCompare(b.f.cause) || a.f.target.localeCompare(b.f.target));
  const lines: string[] = [];
  let file = '';
  let cause = '';
  for (const { f, n, backends } of sorted.slice(0, limit)) {
    if (f.file !== file) {
      file = f.file;
      cause = '';
      lines.push(`\n### ${file}`);
    }
    if (f.cause !== cause) {
      cause = f.cause;
      lines.push(`${cause}:`);
    }
    const where = backends.size === 2 || backends.has('both') ? '' : ` [${[...backends].join(',')} only]`;
    lines.push(`- ${f.repro}  →  ${f.detail}${where}${n > 1 ? `  (×${n})` : ''}`);
  }
  if (sorted.length > limit) lines.push(`… and ${sorted.length - limit} more groups`);
  return lines.join('\n');
}

export function formatReport(r: FuzzReport, limit = Infinity): string {
  return [
    `fuzz: seed ${r.config.seed} (FUZZ_SEED=${r.config.seed} reproduces), ${r.cases} cases × ${r.backendsRun.join('+')}, ${r.config.runs} runs/target, ${r.seconds.toFixed(1)} s, ${r.childrenStarted} child processes`,
    ...r.notes,
    '',
    table(r),
    '',
    `${r.failures.length} failing outcomes`,
    groupedFailures(r, limit),
  ].join('\n');
}

export function writeReport(r: FuzzReport): void {
  const path = process.env['FUZZ_REPORT'];
  if (path) writeFileSync(path, formatReport(r) + '\n');
}
