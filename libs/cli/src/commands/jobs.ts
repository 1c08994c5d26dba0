import type { Command } from 'commander';
import { Option } from 'commander';
import { JOB_STATUSES, TASK_TYPES, type JobStatus } from '@psc/api-client';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { isFinished, watchJobs, type Job } from '../jobs-watch.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { isoTimeArg, platformId, uuidArg } from '../refs.ts';
import { reportFinished } from './sync.ts';

interface ListOptions extends PagingOptions {
  status?: JobStatus;
  platform?: string;
  resource?: string;
  task?: 'sync' | 'validate' | 'collect';
  since?: string;
}

const PAGING: Paging = { max: 500, default: 50, rows: 'jobs' };

function printJob(ctx: Context, job: Job): void {
  ctx.out.result(job, () => {
    ctx.out.fields({
      id: job.id,
      platform: job.platformId,
      resource: job.resource,
      task: job.taskType,
      status: job.status,
      trigger: job.trigger,
      attempts: job.attempts,
      progress: job.progress
        ? `${job.progress.pages} pages, ${job.progress.records} records`
        : null,
      stats: job.stats,
      error: job.error ? `${job.error.class}: ${job.error.message}` : null,
      'next attempt': job.nextAttemptAt,
      trace: job.traceId,
      created: job.createdAt,
      started: job.startedAt,
      finished: job.finishedAt,
    });
  });
}

export function jobsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const jobs = program
    .command('jobs')
    .alias('job')
    .description('the job ledger: list, inspect, follow and cancel jobs');

  withPaging(
    jobs
      .command('ls')
      .alias('list')
      .description('jobs, newest first')
      .addOption(new Option('-s, --status <status>').choices(JOB_STATUSES))
      .option('-p, --platform <platform>', 'platform id or name')
      .option('-r, --resource <name>')
      .addOption(new Option('-t, --task <task>').choices(TASK_TYPES))
      .option('--since <iso-time>', 'created at or after, e.g. 2026-01-01T00:00:00Z', isoTimeArg),
    PAGING,
  ).action(
    action(env, async (ctx, opts: ListOptions) => {
      const api = ctx.api();
      const id = opts.platform ? await platformId(api, opts.platform) : undefined;
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/jobs', {
          params: {
            query: {
              ...query,
              ...(opts.status ? { status: opts.status } : {}),
              ...(id ? { platformId: id } : {}),
              ...(opts.resource ? { resource: opts.resource } : {}),
              ...(opts.task ? { taskType: opts.task } : {}),
              ...(opts.since ? { since: opts.since } : {}),
            },
          },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['id', 'task', 'resource', 'status', 'attempts', 'records', 'created'],
          page.items.map((j) => [
            j.id,
            j.taskType,
            j.resource,
            j.status,
            j.attempts,
            j.progress?.records ?? j.stats?.fetched,
            j.createdAt,
          ]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );

  jobs
    .command('show')
    .description("a job's status, attempts, stats, error and trace id")
    .argument('<job>', 'job id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        printJob(
          ctx,
          await call(api, api.client.GET('/api/v1/jobs/{id}', { params: { path: { id } } })),
        );
      }),
    );

  jobs
    .command('watch')
    .description('follow a job until it ends (exit 1 unless it succeeds)')
    .argument('<job>', 'job id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        reportFinished(ctx, await watchJobs(api, ctx.out, [id], { label: id }));
      }),
    );

  jobs
    .command('cancel')
    .description('cancel a job: a queued one at once, a running one at its next page')
    .argument('<job>', 'job id', uuidArg)
    .option('--reason <text>', 'why, kept with the job')
    .action(
      action(env, async (ctx, id: string, opts: { reason?: string }) => {
        const api = ctx.api();
        const job = await call(
          api,
          api.client.POST('/api/v1/jobs/{id}/cancel', {
            params: { path: { id } },
            body: opts.reason ? { reason: opts.reason } : {},
          }),
        );
        if (!ctx.out.json) {
          ctx.out.success(
            isFinished(job) ? `Job ${id} is ${job.status}.` : `Cancelling job ${id}.`,
          );
        }
        printJob(ctx, job);
      }),
    );
}
