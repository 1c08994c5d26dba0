import { Command } from 'commander';
import { backfillCommand } from './commands/backfill.ts';
import { breakersCommand } from './commands/breakers.ts';
import { collectionsCommand } from './commands/collections.ts';
import { collectorsCommand } from './commands/collectors.ts';
import { dataCommand } from './commands/data.ts';
import { dlqCommand } from './commands/dlq.ts';
import { jobsCommand } from './commands/jobs.ts';
import { keysCommand } from './commands/keys.ts';
import { logsCommand } from './commands/logs.ts';
import { loginCommand } from './commands/login.ts';
import { outboxCommand } from './commands/outbox.ts';
import { platformsCommand } from './commands/platforms.ts';
import { runCommand } from './commands/run.ts';
import { schedulerCommand } from './commands/scheduler.ts';
import { schedulesCommand } from './commands/schedules.ts';
import { statusCommand } from './commands/status.ts';
import { syncCommand } from './commands/sync.ts';
import { validationsCommand } from './commands/validations.ts';
import { webhooksCommand } from './commands/webhooks.ts';
import { positiveIntArg } from './refs.ts';

const EXIT_CODES = `
Exit codes:
    0  done
    1  a job or operation failed (the API's message says why)
    2  the command line was wrong
    3  the gateway is unreachable, did not answer in time (a wait: for --request-timeout),
       broke off its answer (an export cut short), or refused the key
  130  Ctrl-C ended a wait (the jobs keep running)

Connection: --url/--api-key, else PSC_URL/PSC_API_KEY, else what \`psc login\` stored.`;

/** The whole `psc` command tree; `env` is where PSC_URL, PSC_API_KEY and XDG_CONFIG_HOME are read. */
export function createProgram(env: NodeJS.ProcessEnv, options: { json?: boolean } = {}): Command {
  const program = new Command('psc')
    .description(
      "psc's command line: platforms, syncs, jobs, the dead-letter queue, the scheduler, and what the pipeline is doing",
    )
    .option('--json', 'print one JSON document (for scripts) instead of tables')
    .option('--url <url>', 'gateway address (default: PSC_URL, then `psc login`)')
    .option('--api-key <key>', 'API key (default: PSC_API_KEY, then `psc login`)')
    .option(
      '--request-timeout <seconds>',
      'give up on a request the gateway has not answered in this long (default: 30; platforms test: 135)',
      positiveIntArg,
    )
    // Settings made before .command() are inherited by every subcommand.
    .exitOverride()
    // With --json the caller prints commander's errors as JSON: nothing of its own on stderr.
    .configureOutput(options.json ? { writeErr: () => {} } : {})
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES);

  loginCommand(program, env);
  statusCommand(program, env);
  syncCommand(program, env);
  platformsCommand(program, env);
  runCommand(program, env);
  jobsCommand(program, env);
  dlqCommand(program, env);
  schedulerCommand(program, env);
  collectionsCommand(program, env);
  collectorsCommand(program, env);
  dataCommand(program, env);
  validationsCommand(program, env);
  keysCommand(program, env);
  backfillCommand(program, env);
  schedulesCommand(program, env);
  breakersCommand(program, env);
  outboxCommand(program, env);
  logsCommand(program, env);
  webhooksCommand(program, env);
  return program;
}
