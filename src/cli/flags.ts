import { parseArgs } from 'node:util';

/** A command-line mistake: printed as one line with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** One flag: its parseArgs type, default, placeholder and help text. */
export interface Flag {
  type: 'string' | 'boolean';
  default?: string;
  /** Shown in --help after the flag name, e.g. '<n>'. */
  value?: string;
  help: string;
}

export type FlagTable = Record<string, Flag>;

/** Parses argv against a flag table (kebab-case names); unknown flags and stray arguments are usage errors. */
export function parseFlags(table: FlagTable, argv: string[]): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, f] of Object.entries(table)) options[name] = { type: f.type };
  options['help'] = { type: 'boolean' };
  // parseArgs reads `--lr -1` as two options; a negative number after a value flag is its value
  // (then our range check can say what is wrong with it).
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : '';
    if (table[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else {
      args.push(a);
    }
  }
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const out: Record<string, string | boolean | undefined> = {};
    for (const [name, f] of Object.entries(table)) out[name] = (values as Record<string, string | boolean | undefined>)[name] ?? f.default;
    out['help'] = values['help'] as boolean | undefined;
    return out;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // parseArgs's messages are multi-line and mention its own API; keep the first sentence.
    const msg = (e as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    throw new UsageError(msg);
  }
}

/** `--help` text: usage line, description, then each flag with its default. */
export function helpText(usage: string, description: string, table: FlagTable): string {
  const rows = Object.entries(table).map(([name, f]) => {
    const left = `  --${name}${f.value ? ` ${f.value}` : ''}`;
    const def = f.default !== undefined ? ` (default: ${f.default})` : '';
    return [left, `${f.help}${def}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = rows.map(([l, r]) => `${l.padEnd(width)}${r}`);
  lines.push(`${'  --help'.padEnd(width)}show this help`);
  return `usage: ${usage}\n\n${description}\n\noptions:\n${lines.join('\n')}\n`;
}

/** A flag's value as a number within bounds (integers when `integer`). */
export function numberFlag(name: string, v: string | boolean | undefined, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  const s = String(v ?? '').trim();
  const n = s === '' ? Number.NaN : Number(s);
  const kind = opts.integer ? 'an integer' : 'a number';
  const range = opts.min !== undefined && opts.max !== undefined ? ` in [${opts.min}, ${opts.max}]` : opts.min !== undefined ? ` ≥ ${opts.min}` : '';
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    throw new UsageError(`--${name} must be ${kind}${range}, got '${s}'`);
  }
  return n;
}

/** A flag that must be one of a set of words. */
export function choiceFlag<T extends string>(name: string, v: string | boolean | undefined, choices: readonly T[]): T {
  const s = String(v);
  if (!(choices as readonly string[]).includes(s)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${s}'`);
  return s as T;
}
