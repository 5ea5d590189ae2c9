/**
 * The fuzz suite: every public function, constructor, method and getter is called with generated
 * arguments (valid, boundary and junk) on both backends, each call in a child process with a time
 * bound. Asserts: no crash, no hang, errors are Errors naming the op, both backends either throw or
 * return, and what they return matches.
 *
 * Env: FUZZ_SEED (default fixed; 'random' for a fresh one), FUZZ_RUNS (cases per target, default
 * 150), FUZZ_ONLY (regex on target names), FUZZ_BACKENDS ('native,js'; 'js' when TENSORGRAD_BACKEND=js), FUZZ_TIMEOUT_MS (per case,
 * default 2000), FUZZ_REPORT (write the categories table and the failures to this file).
 */
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { Pool } from './fuzz/pool.js';
import { configFromEnv, formatReport, runFuzz, writeReport } from './fuzz/run.js';
import { SKIP, TARGETS } from './fuzz/targets.js';

function isClass(v: unknown): v is abstract new (...a: never[]) => unknown {
  return typeof v === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(v));
}

function memberName(k: string | symbol): string {
  if (typeof k === 'string') return k;
  // Well-known symbols by their Symbol property (Node 20's polyfilled Symbol.dispose is described
  // as 'nodejs.dispose', later versions' as 'Symbol.dispose').
  const statics = Symbol as unknown as Record<string, unknown>;
  const known = Object.getOwnPropertyNames(Symbol).find((n) => statics[n] === k);
  return known !== undefined ? `[Symbol.${known}]` : `[${k.description}]`;
}

/** Every public entry point by target name: functions, `new C`, `C#member`, `C.static`, `init.fn`. */
function publicSurface(): string[] {
  const exported = new Set(Object.values(tg).filter(isClass));
  const names: string[] = [];
  for (const [name, v] of Object.entries(tg)) {
    if (isClass(v)) {
      names.push(`new ${name}`);
      for (let proto = v.prototype as object; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object) {
        const owner = (proto as { constructor: unknown }).constructor;
        if (owner !== v && exported.has(owner as never)) break; // covered under the exported base class
        for (const k of Reflect.ownKeys(proto)) if (k !== 'constructor') names.push(`${name}#${memberName(k)}`);
      }
      for (const k of Object.getOwnPropertyNames(v)) if (!['length', 'name', 'prototype'].includes(k)) names.push(`${name}.${k}`);
    } else if (typeof v === 'function') {
      names.push(name);
    } else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === null) {
      // a namespace re-export (`export * as init`)
      for (const [k, f] of Object.entries(v)) if (typeof f === 'function') names.push(`${name}.${k}`);
    } else {
      names.push(name);
    }
  }
  return [...new Set(names)];
}

/** Whether a target's name still refers to something public (catches stale targets after a rename). */
function resolves(name: string): boolean {
  const lib = tg as unknown as Record<string, unknown>;
  let m = /^new (\w+)$/.exec(name);
  if (m) return isClass(lib[m[1]!]);
  m = /^(\w+)#(.+)$/.exec(name);
  if (m) {
    const C = lib[m[1]!];
    if (!isClass(C)) return false;
    const key = m[2]!.startsWith('[Symbol.') ? (Symbol as unknown as Record<string, symbol>)[m[2]!.slice(8, -1)]! : m[2]!;
    // Tensor fields (shape, size…) live on instances, not on the prototype.
    return key in (C.prototype as object) || (m[1] === 'Tensor' && key in tg.zeros([1]));
  }
  m = /^(\w+)\.(\w+)$/.exec(name);
  if (m) return lib[m[1]!] != null && typeof (lib[m[1]!] as Record<string, unknown>)[m[2]!] === 'function';
  return typeof lib[name] === 'function';
}

describe('fuzz', () => {
  it('has a target (or a reasoned skip) for every export, constructor, method and getter', () => {
    const have = new Set(TARGETS.map((t) => t.name));
    // Underscore members (Tensor#_read, Tensor._rawOf…) are the library's @internal plumbing.
    const missing = publicSurface().filter((n) => !have.has(n) && !(n in SKIP) && !/[#.]_/.test(n));
    expect(missing, `no fuzz target for: ${missing.join(', ')} (add one in test/fuzz/targets.ts, or a skip with its reason)`).toEqual([]);
    const stale = [...have].filter((n) => !resolves(n));
    expect(stale, `targets naming nothing public: ${stale.join(', ')}`).toEqual([]);
    const staleSkips = Object.keys(SKIP).filter((k) => !publicSurface().includes(k));
    expect(staleSkips, `skip entries naming nothing public: ${staleSkips.join(', ')}`).toEqual([]);
  });

  it('finds the case that crashes, hangs or throws asynchronously in a batch', async () => {
    const pool = new Pool({ backend: 'js', timeoutMs: 500, env: { FUZZ_SELFTEST: '1' } });
    const names = ['ok', 'abort', 'ok', 'hang', 'ok', 'uncaught', 'ok', 'ok'];
    try {
      const out = await pool.run(names.map((n, id) => ({ id, target: `selftest.${n}`, args: [], seed: 1 })));
      expect(names.map((_, id) => out.get(id)?.kind)).toEqual(['result', 'crash', 'result', 'hang', 'result', 'crash', 'result', 'result']);
    } finally {
      pool.close();
    }
  }, 60_000);

  const cfg = configFromEnv();
  it(
    'survives generated arguments on every backend: no crash, no hang, clear errors, matching results',
    async () => {
      const report = await runFuzz(cfg);
      writeReport(report);
      // The table always goes to the log: it is the closing note's evidence.
      console.log(formatReport(report, 0));
      expect(report.failures.length, formatReport(report, 80)).toBe(0);
    },
    // Long runs (FUZZ_RUNS) scale the bound.
    Math.max(300_000, cfg.runs * 25_000),
  );
});
