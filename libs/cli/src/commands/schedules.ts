import type { Command } from 'commander';
import { Option } from 'commander';
import { TASK_TYPES, type TaskType } from '@psc/api-client';
import { action } from '../context.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { platformId } from '../refs.ts';

const PAGING: Paging = { max: 500, default: 500, rows: 'schedules', all: true };

export function schedulesCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const schedules = program
    .command('schedules')
    .description('every schedule (platform × resource × task)');

  withPaging(
    schedules
      .command('ls')
      .alias('list')
      .description('schedules with their next run and why one is paused')
      .option('-p, --platform <platform>', 'platform id or name')
      .addOption(new Option('-t, --task-type <task>').choices(TASK_TYPES)),
    PAGING,
  ).action(
    action(env, async (ctx, opts: PagingOptions & { platform?: string; taskType?: TaskType }) => {
      const api = ctx.api();
      const id = opts.platform ? await platformId(api, opts.platform) : undefined;
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/schedules', {
          params: {
            query: {
              ...query,
              ...(id ? { platformId: id } : {}),
              ...(opts.taskType ? { taskType: opts.taskType } : {}),
            },
          },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['platform', 'resource', 'task', 'next', 'last run', 'failures', 'paused because'],
          page.items.map((s) => [
            s.platformId,
            s.resource,
            s.taskType,
            s.nextDueAt,
            s.lastRunAt,
            s.consecutiveFailures,
            s.pausedReason,
          ]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );
}
