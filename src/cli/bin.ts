#!/usr/bin/env node
// The `tensorgrad` executable: main() does the work; this file only runs it and sets the exit code.
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tensorgrad: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
