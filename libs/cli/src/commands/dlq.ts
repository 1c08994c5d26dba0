import type { components } from '@psc/api-client';
import { Option, type Command } from 'commander';
import { call, type Api } from '../api.ts';
import { action } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { platformId, uuidArg } from '../refs.ts';

type DeadLetter = components['schemas']['DeadLetterPage']['items'][number];

interface FilterOptions {
  platform?: string;
  resource?: string;
  task?: 'sync' | 'validate' | 'collect';
  reason?: string;
}

async function filterOf(api: Api, opts: FilterOptions) {
  const id = opts.platform ? await platformId(api, opts.platform) : undefined;
  return {
    ...(id ? { platformId: id } : {}),
    ...(opts.resource ? { resource: opts.resource } : {}),
    ...(opts.task ? { taskType: opts.task } : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
  };
}

const withFilters = (command: Command): Command =>
  command
    .option('-p, --platform <platform>', 'platform id or name')
    .option('-r, --resource <name>')
    .addOption(new Option('-t, --task <task>').choices(['sync', 'validate', 'collect']))
    .option('--reason <reason>', 'why they died, e.g. retries_exhausted');

/** Dead letters are listed, not fetched one by one: the entry of a job is found by paging. */
async function findDeadLetter(api: Api, jobId: string): Promise<DeadLetter> {
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const found = await call(
      api,
      api.client.GET('/api/v1/dlq', {
        params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } },
      }),
    );
    const match = found.items.find((d) => d.jobId === jobId || d.id === jobId);
    if (match) return match;
    if (!found.nextCursor) break;
    cursor = found.nextCursor;
  }
  throw new CliError(`job ${jobId} is not in the dead-letter queue`, {
    exitCode: EXIT.failed,
    hint: 'List what is there with `psc dlq ls`.',
  });
}

export function dlqCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const dlq = program.command('dlq').description('dead-lettered jobs: inspect, replay, forget');

  withFilters(dlq.command('ls').description('dead jobs, newest first')).action(
    action(env, async (ctx, opts: FilterOptions) => {
      const api = ctx.api();
      const page = await call(
        api,
        api.client.GET('/api/v1/dlq', {
          params: { query: { limit: 500, ...(await filterOf(api, opts)) } },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['job', 'task', 'resource', 'reason', 'attempts', 'replayable', 'dead at'],
          page.items.map((d) => [
            d.jobId,
            d.taskType,
            d.resource,
            d.reason,
            d.attempts,
            d.replayable,
            d.deadAt,
          ]),
        );
      });
    }),
  );

  dlq
    .command('show')
    .description("a dead job: why it died, and the job's last error")
    .argument('<job>', 'job id', uuidArg)
    .action(
      action(env, async (ctx, jobId: string) => {
        const api = ctx.api();
        const entry = await findDeadLetter(api, jobId);
        const job = entry.jobId
          ? await call(
              api,
              api.client.GET('/api/v1/jobs/{id}', { params: { path: { id: entry.jobId } } }),
            )
          : null;
        ctx.out.result({ deadLetter: entry, job }, () => {
          ctx.out.fields({
            job: entry.jobId,
            queue: entry.queue,
            platform: entry.platformId,
            resource: entry.resource,
            task: entry.taskType,
            reason: entry.reason,
            attempts: entry.attempts,
            replayable: entry.replayable,
            'dead at': entry.deadAt,
            error: job?.error ? `${job.error.class}: ${job.error.message}` : null,
            params: job?.params,
            trace: job?.traceId,
          });
        });
      }),
    );

  withFilters(
    dlq
      .command('replay')
      .description('replay one dead job, or with --all every one matching the filters')
      .argument('[job]', 'job id', uuidArg)
      .option('--all', 'every dead job matching the filters'),
  ).action(
    action(env, async (ctx, jobId: string | undefined, opts: FilterOptions & { all?: boolean }) => {
      if (!jobId === !opts.all)
        throw usageError('give a job id, or --all (with filters) to replay many');
      const api = ctx.api();
      const replayed = jobId
        ? await call(
            api,
            api.client.POST('/api/v1/dlq/{jobId}/replay', { params: { path: { jobId } } }),
          )
        : await call(
            api,
            api.client.POST('/api/v1/dlq/replay', { body: await filterOf(api, opts) }),
          );
      ctx.out.result(replayed, () => {
        ctx.out.success(`Replayed ${replayed.replayed.length} job(s).`);
        for (const id of replayed.replayed) ctx.out.line(id);
      });
    }),
  );

  dlq
    .command('rm')
    .description('forget a dead job')
    .argument('<job>', 'job id', uuidArg)
    .action(
      action(env, async (ctx, jobId: string) => {
        const api = ctx.api();
        await call(api, api.client.DELETE('/api/v1/dlq/{jobId}', { params: { path: { jobId } } }));
        ctx.out.result({ jobId, deleted: true }, () =>
          ctx.out.success(`Forgot dead job ${jobId}.`),
        );
      }),
    );
}
