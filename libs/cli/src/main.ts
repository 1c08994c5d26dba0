import { CommanderError } from 'commander';
import pc from 'picocolors';
import { CliError, EXIT } from './errors.ts';
import { createProgram } from './program.ts';

/** Commander's own ends that are not errors: --help, --version. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** Commander's error as ours: "error: unknown command 'x'" → "unknown command 'x'", exit 2. */
function usageOf(err: CommanderError): CliError {
  const message =
    err.code === 'commander.help' || err.message === '(outputHelp)'
      ? 'a subcommand is missing'
      : err.message.replace(/^error: /, '');
  return new CliError(message, {
    exitCode: EXIT.usage,
    code: err.code,
    hint: 'Run the command with --help for its usage.',
  });
}

function report(err: unknown, json: boolean): number {
  if (err instanceof CommanderError) {
    if (CLEAN_EXITS.has(err.code) && err.exitCode === 0) return EXIT.ok;
    // Without --json commander has already printed its message; only the code is ours.
    if (!json) return EXIT.usage;
  }
  const error =
    err instanceof CommanderError
      ? usageOf(err)
      : err instanceof CliError
        ? err
        : new CliError(err instanceof Error ? err.message : String(err), {
            exitCode: EXIT.failed,
          });
  if (json) {
    process.stderr.write(
      `${JSON.stringify({
        error: {
          message: error.message,
          ...(error.code ? { code: error.code } : {}),
          ...(error.details === undefined ? {} : { details: error.details }),
          ...(error.traceId ? { traceId: error.traceId } : {}),
          ...(error.hint ? { hint: error.hint } : {}),
        },
        exitCode: error.exitCode,
      })}\n`,
    );
  } else {
    // The trace id is what a failure inside psc is looked up by; a 4xx explains itself.
    const trace = error.traceId && (error.status ?? 0) >= 500 ? `trace ${error.traceId}` : '';
    const about = [error.code, trace].filter(Boolean).join(', ');
    process.stderr.write(
      `${pc.red('error:')} ${error.message}${about ? pc.dim(` (${about})`) : ''}\n`,
    );
    if (error.details !== undefined)
      process.stderr.write(`${JSON.stringify(error.details, null, 2)}\n`);
    if (error.hint) process.stderr.write(`${pc.yellow('→')} ${error.hint}\n`);
  }
  return error.exitCode;
}

const argv = process.argv.slice(2);
const json = argv.includes('--json');

// `psc … | head` closes stdout early: that is the reader's choice, not a failure. Any other
// failed write (a full disk, a file past its quota) is one, said like every other error: the
// output is incomplete, and a stack trace would say nothing more.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok);
  const cause = err.code ? `${err.code}: ${err.message.replace(/^\w+: /, '')}` : err.message;
  const error = new CliError(`cannot write the output (${cause}); what was written is incomplete`, {
    exitCode: EXIT.failed,
  });
  process.exit(report(error, json));
});

try {
  await createProgram(process.env, { json }).parseAsync(argv, { from: 'user' });
} catch (err) {
  process.exitCode = report(err, json);
}
