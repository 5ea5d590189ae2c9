/**
 * Property tests draw from one fixed seed, so a run is reproducible and a mutation of the code
 * is caught on every run or on none (an unseeded run caught some bugs only now and then).
 * FC_SEED=random draws a fresh seed per test file (to explore); FC_SEED=<integer> replays one.
 * fast-check prints the seed and the shrink path of any failure ("{ seed: …, path: … }"), and
 * FC_SEED=<that seed> reproduces it.
 */
import fc from 'fast-check';

const DEFAULT_SEED = 20240808;

function seedFromEnv(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  if (raw === 'random') return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED must be an integer or 'random', got '${raw}'`);
  return n | 0;
}

const seed = seedFromEnv(process.env['FC_SEED']);
if (process.env['FC_SEED'] === 'random') console.log(`fast-check seed ${seed} (FC_SEED=${seed} replays it)`);
fc.configureGlobal({ seed });
