import type { components } from '@psc/api-client';
import { Option, type Command } from 'commander';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { intArg, jsonObjectArg, platformId, positiveIntArg, uuidArg } from '../refs.ts';
import { TASK_TYPES } from '@psc/api-client';

type Backfill = components['schemas']['Backfill'];

const PAGING: Paging = { max: 500, default: 100, rows: 'backfills' };

const progressOf = (b: Backfill): string =>
  `${b.progress.succeeded}/${b.progress.steps} succeeded, ${b.progress.running} running, ${b.progress.failed + b.progress.dead} failed`;

function printBackfill(ctx: Context, b: Backfill): void {
  ctx.out.result(b, () => {
    ctx.out.fields({
      id: b.id,
      platform: b.platformId,
      resource: b.resource,
      task: b.taskType,
      range: `${b.from} → ${b.to} by ${b.step} (${b.timezone})`,
      status: b.status,
      progress: progressOf(b),
      'at once': b.maxConcurrent,
      'cancel reason': b.cancelReason,
      created: b.createdAt,
      finished: b.finishedAt,
    });
  });
}

interface CreateOptions {
  platform: string;
  resource: string;
  task: 'sync' | 'validate' | 'collect';
  from: string;
  to: string;
  step?: 'hour' | 'day' | 'week' | 'month';
  timezone?: string;
  params?: Record<string, unknown>;
  maxConcurrent?: number;
  priority?: number;
}

export function backfillCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const backfill = program
    .command('backfill')
    .alias('backfills')
    .description('run a task over a past range, one job per step');

  backfill
    .command('create')
    .description('start a backfill')
    .requiredOption('-p, --platform <platform>', 'platform id or name')
    .requiredOption('-r, --resource <name>')
    .addOption(new Option('-t, --task <task>').choices(TASK_TYPES).default('sync'))
    .requiredOption('--from <date>', 'first date or time, e.g. 2026-01-01')
    .requiredOption('--to <date>', 'last date or time (included), in the past')
    .addOption(new Option('--step <step>').choices(['hour', 'day', 'week', 'month']))
    .option('--timezone <tz>', 'e.g. Europe/Berlin (UTC by default)')
    .option('--params <json>', 'params template, e.g. \'{"date":"{{date}}"}\'', jsonObjectArg)
    .option('--max-concurrent <n>', 'steps running at once', positiveIntArg)
    .option('--priority <1-9>', 'queue priority', intArg(1, 9))
    .action(
      action(env, async (ctx, opts: CreateOptions) => {
        const api = ctx.api();
        const id = await platformId(api, opts.platform);
        printBackfill(
          ctx,
          await call(
            api,
            api.client.POST('/api/v1/backfills', {
              body: {
                platformId: id,
                resource: opts.resource,
                taskType: opts.task,
                from: opts.from,
                to: opts.to,
                // The API's defaults, spelled out: the generated body type requires them.
                step: opts.step ?? 'day',
                timezone: opts.timezone ?? 'UTC',
                paramsTemplate: opts.params ?? {},
                maxConcurrent: opts.maxConcurrent ?? 2,
                ...(opts.priority === undefined ? {} : { priority: opts.priority }),
              },
            }),
          ),
        );
      }),
    );

  withPaging(
    backfill
      .command('ls')
      .alias('list')
      .description('backfills, newest first, with their progress')
      .option('-p, --platform <platform>', 'platform id or name'),
    PAGING,
  ).action(
    action(env, async (ctx, opts: PagingOptions & { platform?: string }) => {
      const api = ctx.api();
      const id = opts.platform ? await platformId(api, opts.platform) : undefined;
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/backfills', {
          params: { query: { ...query, ...(id ? { platformId: id } : {}) } },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['id', 'task', 'resource', 'from', 'to', 'status', 'progress'],
          page.items.map((b) => [
            b.id,
            b.taskType,
            b.resource,
            b.from,
            b.to,
            b.status,
            progressOf(b),
          ]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );

  backfill
    .command('show')
    .description("a backfill's status and progress")
    .argument('<id>', 'backfill id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        printBackfill(
          ctx,
          await call(api, api.client.GET('/api/v1/backfills/{id}', { params: { path: { id } } })),
        );
      }),
    );

  backfill
    .command('cancel')
    .description('no further step starts; queued runs end, running ones stop')
    .argument('<id>', 'backfill id', uuidArg)
    .option('--reason <text>', 'why')
    .action(
      action(env, async (ctx, id: string, opts: { reason?: string }) => {
        const api = ctx.api();
        printBackfill(
          ctx,
          await call(
            api,
            api.client.POST('/api/v1/backfills/{id}/cancel', {
              params: { path: { id } },
              body: opts.reason ? { reason: opts.reason } : {},
            }),
          ),
        );
      }),
    );
}
