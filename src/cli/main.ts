/**
 * `tensorgrad train | eval | predict`. Every failure ends as one line on stderr and a non-zero
 * exit: 2 for a command-line mistake, 1 for anything else (a missing file, malformed data).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../backend/root.js';
import { evalCommand, predictCommand } from './eval.js';
import { UsageError } from './flags.js';
import { trainCommand } from './train.js';

const HELP = `usage: tensorgrad <command> [options]

commands:
  train     train an MLP classifier (default data: the embedded digits)
  eval      accuracy and confusion matrix of a saved model
  predict   one prediction per input row

Run 'tensorgrad <command> --help' for a command's options and their defaults,
'tensorgrad --version' for the version.
`;

const COMMANDS: Record<string, (argv: string[], out: NodeJS.WriteStream) => Promise<number>> = {
  train: trainCommand,
  eval: evalCommand,
  predict: predictCommand,
};

/** Runs the CLI on argv (without node and the script) and returns the exit code. */
export async function main(argv: string[], out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    out.write(`${pkg.version}\n`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out.write(HELP);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    err.write(`tensorgrad: unknown command '${command}' (expected train, eval or predict; see tensorgrad --help)\n`);
    return 2;
  }
  try {
    return await run(rest, out);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const oneLine = message.split('\n')[0];
    if (e instanceof UsageError) {
      err.write(`tensorgrad ${command}: ${oneLine} (see tensorgrad ${command} --help)\n`);
      return 2;
    }
    err.write(`tensorgrad ${command}: ${oneLine}\n`);
    if (process.env['TENSORGRAD_DEBUG'] && e instanceof Error && e.stack) err.write(`${e.stack}\n`);
    return 1;
  }
}
