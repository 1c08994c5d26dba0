import { Argument, type Command } from 'commander';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { watchJobs } from '../jobs-watch.ts';
import { intArg, jsonObjectArg, platformId } from '../refs.ts';
import { reportFinished } from './sync.ts';
import { TASK_TYPES } from '@psc/api-client';

interface RunOptions {
  platform?: string;
  resource?: string;
  priority?: number;
  params?: Record<string, unknown>;
  wait?: boolean;
}

export function runCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('run')
    .description('queue a task now: one resource, one platform, or every active platform')
    .addArgument(new Argument('<task>').choices(TASK_TYPES))
    .option('-p, --platform <platform>', 'platform id or name (all active platforms without it)')
    .option('-r, --resource <name>', 'one resource of the platform')
    .option('--priority <1-9>', 'queue priority', intArg(1, 9))
    .option('--params <json>', 'task params as a JSON object', jsonObjectArg)
    .option('-w, --wait', 'wait for the jobs, showing pages and records, then print their stats')
    .action(
      action(env, async (ctx, task: 'sync' | 'validate' | 'collect', opts: RunOptions) => {
        const api = ctx.api();
        const id = opts.platform ? await platformId(api, opts.platform) : undefined;
        const queued = await call(
          api,
          api.client.POST('/api/v1/run/{taskType}', {
            params: { path: { taskType: task } },
            body: {
              ...(id ? { platformId: id } : {}),
              ...(opts.resource ? { resource: opts.resource } : {}),
              ...(opts.priority === undefined ? {} : { priority: opts.priority }),
              params: opts.params ?? {},
            },
          }),
        );
        if (!opts.wait) {
          ctx.out.result(queued, () => {
            ctx.out.table(
              ['job', 'status'],
              queued.jobs.map((j) => [j.id, j.status]),
            );
          });
          return;
        }
        const ids = queued.jobs.map((j) => j.id);
        reportFinished(ctx, await watchJobs(api, ctx.out, ids, { label: task }));
      }),
    );
}
