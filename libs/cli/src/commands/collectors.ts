import type { Command } from 'commander';
import type { components } from '@psc/api-client';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { platformName } from '../refs.ts';

type Collector = components['schemas']['CollectorStatus'];

/** The scheduler holds the switch; `null` while it does not answer. */
const switchOf = (c: Collector): string =>
  c.enabled === null ? 'unknown (the scheduler did not answer)' : c.enabled ? 'on' : 'stopped';

function printCollector(ctx: Context, c: Collector): void {
  ctx.out.result(c, () => {
    ctx.out.fields({
      collector: c.name,
      platform: c.platformId,
      params: c.params.join(', '),
      'fan-out': c.fanOut,
      schedule: switchOf(c),
      'stopped because': c.stoppedReason,
      'stopped at': c.stoppedAt,
      running: c.running,
      'last run': c.lastRun
        ? `${c.lastRun.jobId} ${c.lastRun.status}, ${c.lastRun.documents} documents`
        : null,
      'last run ended': c.lastRun?.finishedAt,
    });
  });
}

/** `<platform> <resource>`, the platform by id or name, as the collectors API names them. */
async function pathOf(ctx: Context, ref: string, resource: string) {
  const api = ctx.api();
  return { api, path: { params: { path: { platform: await platformName(api, ref), resource } } } };
}

export function collectorsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const collectors = program
    .command('collectors')
    .alias('collector')
    .description(
      'collector resources: whether their schedules run, their last run; stop or start one',
    );

  collectors
    .command('ls')
    .alias('list')
    .description('every collector with its schedule switch, running count and last run')
    .action(
      action(env, async (ctx) => {
        const api = ctx.api();
        const list = await call(api, api.client.GET('/api/v1/collectors'));
        ctx.out.result(list, () => {
          ctx.out.table(
            [
              'collector',
              'params',
              'fan-out',
              'schedule',
              'stopped because',
              'running',
              'last run',
            ],
            list.items.map((c) => [
              c.name,
              c.params.join(', '),
              c.fanOut,
              switchOf(c),
              c.stoppedReason,
              c.running,
              c.lastRun ? `${c.lastRun.status} ${c.lastRun.finishedAt ?? ''}`.trim() : null,
            ]),
          );
        });
      }),
    );

  collectors
    .command('show')
    .description('one collector: its params, schedule switch, running count and last run')
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'collector resource')
    .action(
      action(env, async (ctx, ref: string, resource: string) => {
        const { api, path } = await pathOf(ctx, ref, resource);
        printCollector(
          ctx,
          await call(api, api.client.GET('/api/v1/collectors/{platform}/{resource}/status', path)),
        );
      }),
    );

  collectors
    .command('stop')
    .description(
      "stop a collector's scheduled runs and cancel its queued ones (`collections run` still runs it; audited)",
    )
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'collector resource')
    .option('--reason <text>', 'why: shown by `collectors show` and the console')
    .action(
      action(env, async (ctx, ref: string, resource: string, opts: { reason?: string }) => {
        const { api, path } = await pathOf(ctx, ref, resource);
        const stopped = await call(
          api,
          api.client.POST('/api/v1/collectors/{platform}/{resource}/stop', {
            ...path,
            ...(opts.reason ? { body: { reason: opts.reason } } : {}),
          }),
        );
        if (!ctx.out.json) ctx.out.success(`Stopped the schedule of ${stopped.name}.`);
        printCollector(ctx, stopped);
      }),
    );

  collectors
    .command('start')
    .description("start a collector's scheduled runs again (audited)")
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'collector resource')
    .action(
      action(env, async (ctx, ref: string, resource: string) => {
        const { api, path } = await pathOf(ctx, ref, resource);
        const started = await call(
          api,
          api.client.POST('/api/v1/collectors/{platform}/{resource}/start', path),
        );
        if (!ctx.out.json) ctx.out.success(`Started the schedule of ${started.name}.`);
        printCollector(ctx, started);
      }),
    );
}
