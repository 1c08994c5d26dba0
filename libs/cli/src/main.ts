import { CommanderError } from 'commander';
import pc from 'picocolors';
import { CliError, EXIT } from './errors.ts';
import { createProgram } from './program.ts';

/** Commander's own ends that are not errors: --help, --version. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

function report(err: unknown, json: boolean): number {
  if (err instanceof CommanderError) {
    // Commander has already printed its message; only the code is ours to choose.
    return CLEAN_EXITS.has(err.code) && err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  const error =
    err instanceof CliError
      ? err
      : new CliError(err instanceof Error ? err.message : String(err), { exitCode: EXIT.failed });
  if (json) {
    process.stderr.write(
      `${JSON.stringify({
        error: {
          message: error.message,
          ...(error.code ? { code: error.code } : {}),
          ...(error.details === undefined ? {} : { details: error.details }),
          ...(error.hint ? { hint: error.hint } : {}),
        },
        exitCode: error.exitCode,
      })}\n`,
    );
  } else {
    process.stderr.write(
      `${pc.red('error:')} ${error.message}${error.code ? pc.dim(` (${error.code})`) : ''}\n`,
    );
    if (error.details !== undefined)
      process.stderr.write(`${JSON.stringify(error.details, null, 2)}\n`);
    if (error.hint) process.stderr.write(`${pc.yellow('→')} ${error.hint}\n`);
  }
  return error.exitCode;
}

// `psc … | head` closes stdout early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok);
  throw err;
});

const argv = process.argv.slice(2);
try {
  await createProgram(process.env).parseAsync(argv, { from: 'user' });
} catch (err) {
  process.exitCode = report(err, argv.includes('--json'));
}
