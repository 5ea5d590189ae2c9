// Shared by the embedding benches (memory, event-loop, serve): the machine header every table
// carries, percentiles and a markdown table writer. Not a bench itself.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
/** The CPU's model name as /proc/cpuinfo gives it (os.cpus() elsewhere). */
export function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m)
      return m[1].trim();
  }
  catch {
    // Not Linux: fall through.
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}
/** `info`: the library's backendInfo() (benches load the library from src/ or from dist/). */
export function machine(info) {
  return {
    cpu: cpuModel(),
    cores: availableParallelism(),
    backend: info.isa === info.backend ? info.backend : `${info.backend} ${info.isa}`,
    threads: info.threads,
    node: process.version,
    loadAtStart: loadavg()[0],
  };
}
/** One line under a table: where and under what load the numbers were taken. */
export function machineLine(m) {
  return (`${m.cpu}, ${m.cores} cores; backend ${m.backend}, ${m.threads} kernel thread${m.threads === 1 ? '' : 's'}; ` +
    `Node ${m.node}; load average ${m.loadAtStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`);
}
/** The q-quantile (0..1) by nearest rank; NaN for no data. */
export function quantile(xs, q) {
  if (xs.length === 0)
    return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export const median = (xs) => quantile(xs, 0.5);
export const mean = (xs) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
/** A markdown table; numbers are already formatted by the caller. Right-aligns every column but the first. */
export function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const r of rows)
    lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}
export const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
export const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
export const int = (x) => Math.round(x).toLocaleString('en-US');
/** A positive integer flag, or a one-line usage error naming the flag. */
export function intFlag(name, v, fallback) {
  if (v === undefined)
    return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got '${v}'`);
    process.exit(2);
  }
  return n;
}
