#!/usr/bin/env node
// The `tensorgrad` executable: main() does the work; this file only runs it and sets the exit code.
import { main } from './main.js';

// `tensorgrad eval | head`: the reader went away, which is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tensorgrad: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
