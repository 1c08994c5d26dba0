import type { components } from '@psc/api-client';
import { Argument, type Command } from 'commander';
import { call, type Api } from '../api.ts';
import { action, type Context } from '../context.ts';
import { TASK_TYPES } from '@psc/api-client';

type SchedulerStatus = components['schemas']['SchedulerStatus'];
type TaskConfig = components['schemas']['TaskConfig'];

const byStatus = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');

function printStatus(ctx: Context, s: SchedulerStatus): void {
  ctx.out.result(s, () => {
    ctx.out.fields({
      state: s.state,
      reason: s.reason,
      since: s.changedAt,
      leader: s.leader ? `${s.leader.id} (lease until ${s.leader.leaseExpiresAt})` : null,
      'last tick': s.lastTickAt,
      platforms: `${s.counts.activePlatforms} active of ${s.counts.platforms}`,
      schedules: `${s.counts.schedules} (${s.counts.pausedSchedules} paused)`,
      jobs: byStatus(s.counts.jobs),
      'finished last hour': byStatus(s.counts.finishedLastHour),
      'dead letters': `${s.counts.deadLetters.count}${s.counts.deadLetters.atLeast ? '+' : ''}`,
    });
  });
}

function printConfigs(ctx: Context, configs: TaskConfig[], data: unknown): void {
  ctx.out.result(data, () => {
    ctx.out.table(
      ['task', 'enabled', 'every', 'cron', 'timezone', 'paused because', 'next fire times'],
      configs.map((c) => [
        c.taskType,
        c.enabled,
        c.intervalSeconds === null ? null : `${c.intervalSeconds}s`,
        c.cron,
        c.timezone,
        c.pausedReason,
        c.nextFireTimes.slice(0, 3).join('\n'),
      ]),
    );
  });
}

export function schedulerCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const scheduler = program
    .command('scheduler')
    .description('the scheduler: state, pause/resume/stop with a reason, task-type schedules');

  scheduler
    .command('status')
    .description('state with its reason, leader, last tick and counts')
    .action(
      action(env, async (ctx) => {
        const api = ctx.api();
        printStatus(ctx, await call(api, api.client.GET('/api/v1/scheduler')));
      }),
    );

  // Pause and stop differ only in what the scheduler does with the queued jobs.
  // Each route written out whole: test/docs/cli-coverage.test.ts finds the CLI's calls by them.
  for (const [name, description, send] of [
    [
      'pause',
      'stop emitting runs, keeping every schedule',
      (api: Api, reason: string) =>
        api.client.POST('/api/v1/scheduler/pause', { body: { reason } }),
    ],
    [
      'stop',
      'pause and cancel the queued jobs',
      (api: Api, reason: string) => api.client.POST('/api/v1/scheduler/stop', { body: { reason } }),
    ],
  ] as const) {
    scheduler
      .command(name)
      .description(description)
      .requiredOption('--reason <text>', 'why: shown in `psc scheduler status` and the console')
      .action(
        action(env, async (ctx, opts: { reason: string }) => {
          const api = ctx.api();
          printStatus(ctx, await call(api, send(api, opts.reason)));
        }),
      );
  }

  scheduler
    .command('resume')
    .description('emit again after a pause or a stop (missed runs follow each misfire policy)')
    .action(
      action(env, async (ctx) => {
        const api = ctx.api();
        const status = await call(api, api.client.GET('/api/v1/scheduler'));
        // A stopped scheduler is started again; a paused one resumed.
        const next =
          status.state === 'stopped'
            ? await call(api, api.client.POST('/api/v1/scheduler/start'))
            : await call(api, api.client.POST('/api/v1/scheduler/resume'));
        printStatus(ctx, next);
      }),
    );

  scheduler
    .command('config')
    .description("task types' schedules with their next fire times; pause or resume one task type")
    .addArgument(new Argument('[task]', 'one task type').choices(TASK_TYPES))
    .addArgument(
      new Argument('[action]', 'pause or resume that task type').choices(['pause', 'resume']),
    )
    .option('--reason <text>', 'pause: why')
    .action(
      action(
        env,
        async (
          ctx,
          task: 'sync' | 'validate' | 'collect' | undefined,
          what: string | undefined,
          opts: { reason?: string },
        ) => {
          const api = ctx.api();
          if (!task) {
            const list = await call(api, api.client.GET('/api/v1/scheduler/config'));
            printConfigs(ctx, list.items, list);
            return;
          }
          const path = { params: { path: { taskType: task } } };
          const one =
            what === 'pause'
              ? await call(
                  api,
                  api.client.POST('/api/v1/scheduler/config/{taskType}/pause', {
                    ...path,
                    body: opts.reason ? { reason: opts.reason } : {},
                  }),
                )
              : what === 'resume'
                ? await call(
                    api,
                    api.client.POST('/api/v1/scheduler/config/{taskType}/resume', path),
                  )
                : await call(api, api.client.GET('/api/v1/scheduler/config/{taskType}', path));
          printConfigs(ctx, [one], one);
        },
      ),
    );
}
