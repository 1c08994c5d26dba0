import type { Command } from 'commander';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { intArg } from '../refs.ts';

/**
 * `psc outbox`: messages a service committed but could not publish (a queue deleted, a message
 * the broker refused), parked with the reason instead of blocking the ones behind them.
 */
export function outboxCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('outbox')
    .description(
      "messages each service's outbox could not publish, parked with the reason (nothing acts on them)",
    )
    .option('-n, --limit <n>', 'at most this many per service (1–500)', intArg(1, 500), 50)
    .action(
      action(env, async (ctx, opts: { limit: number }) => {
        const api = ctx.api();
        const parked = await call(
          api,
          api.client.GET('/api/v1/monitoring/outbox', { params: { query: { limit: opts.limit } } }),
        );
        ctx.out.result(parked, () => {
          ctx.out.table(
            ['service', 'seq', 'type', 'routing key', 'message id', 'reason', 'tries', 'parked at'],
            parked.items.map((m) => [
              m.service,
              m.seq,
              m.type,
              m.routingKey,
              m.messageId,
              m.reason,
              m.attempts,
              m.parkedAt,
            ]),
          );
        });
        // An empty list with a service missing must not read as "nothing parked".
        if (parked.unavailable.length > 0) {
          throw new CliError(
            `${parked.unavailable.join(', ')} did not answer: its parked messages are not listed`,
            {
              exitCode: EXIT.failed,
              hint: 'See `psc status` and `psc logs -l error` for that service, and ask again.',
            },
          );
        }
      }),
    );
}
