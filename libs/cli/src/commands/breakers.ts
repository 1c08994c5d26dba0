import type { Command } from 'commander';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { platformId } from '../refs.ts';

export function breakersCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const breakers = program
    .command('breakers')
    .alias('breaker')
    .description("platforms' circuit breakers, as each sync-worker and collector sees them");

  breakers
    .command('ls')
    .alias('list')
    .description('every breaker state each worker holds (closed ones too), newest change first')
    .option('-p, --platform <platform>', 'platform id or name')
    .action(
      action(env, async (ctx, opts: { platform?: string }) => {
        const api = ctx.api();
        const id = opts.platform ? await platformId(api, opts.platform) : undefined;
        const list = await call(
          api,
          api.client.GET('/api/v1/monitoring/breakers', {
            params: { query: id ? { platformId: id } : {} },
          }),
        );
        ctx.out.result(list, () => {
          ctx.out.table(
            ['platform', 'service', 'worker', 'state', 'since'],
            [...list.items]
              .sort((a, b) => b.changedAt.localeCompare(a.changedAt))
              .map((b) => [b.platformId, b.service, b.workerId, b.state, b.changedAt]),
          );
          // A service that did not answer: its breakers are not in the list.
          if (list.unavailable.length > 0)
            ctx.out.line(`not answering: ${list.unavailable.join(', ')}`);
        });
      }),
    );

  breakers
    .command('reset')
    .description("close the platform's breaker on every sync-worker and collector (audited)")
    .argument('<platform>', 'id or name')
    .action(
      action(env, async (ctx, ref: string) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        const reset = await call(
          api,
          api.client.POST('/api/v1/platforms/{id}/breaker/reset', { params: { path: { id } } }),
        );
        ctx.out.result(reset, () =>
          ctx.out.success(
            `Reset ${ref}'s breaker at ${reset.resetAt}: each worker closes it on its next request.`,
          ),
        );
      }),
    );
}
