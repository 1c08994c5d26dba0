import type { components } from '@psc/api-client';
import { Option, type Command } from 'commander';
import { call, type Api } from '../api.ts';
import { action, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { jsonObjectArg, platformId, uuidArg } from '../refs.ts';
import { TASK_TYPES } from '@psc/api-client';

type DeadLetterDetail = components['schemas']['DeadLetterDetail'];

const PAGING: Paging = { max: 500, default: 500, rows: 'dead letters' };

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

function printDeadLetter(ctx: Context, d: DeadLetterDetail): void {
  ctx.out.fields({
    job: d.jobId,
    // A poison message is named by its own id.
    ...(d.jobId === d.id ? {} : { id: d.id }),
    queue: d.queue,
    platform: d.platformId,
    resource: d.resource,
    task: d.taskType,
    run: d.run,
    reason: d.reason,
    error: d.error ? `${d.error.class}: ${d.error.message}` : null,
    attempts: d.attempts,
    replayable: d.replayable,
    'dead at': d.deadAt,
  });
  ctx.out.line();
  if (!d.message) {
    ctx.out.line('No message is kept (the job has been purged from the ledger).');
    return;
  }
  ctx.out.fields({ type: d.message.type, 'message id': d.message.messageId });
  ctx.out.line('headers:');
  ctx.out.line(indent(JSON.stringify(d.message.headers, null, 2)));
  ctx.out.line(d.message.truncated ? 'payload (the first 2,000 characters):' : 'payload:');
  ctx.out.line(
    indent(
      typeof d.message.payload === 'string'
        ? d.message.payload
        : JSON.stringify(d.message.payload, null, 2),
    ),
  );
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

const withFilters = (command: Command): Command =>
  command
    .option('-p, --platform <platform>', 'platform id or name')
    .option('-r, --resource <name>')
    .addOption(new Option('-t, --task <task>').choices(TASK_TYPES))
    .option('--reason <reason>', 'why they died, e.g. retries_exhausted');

export function dlqCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const dlq = program.command('dlq').description('dead-lettered jobs: inspect, replay, forget');

  withPaging(
    withFilters(dlq.command('ls').alias('list').description('dead jobs, newest first')),
    PAGING,
  ).action(
    action(env, async (ctx, opts: FilterOptions & PagingOptions) => {
      const api = ctx.api();
      const filter = await filterOf(api, opts);
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/dlq', { params: { query: { ...query, ...filter } } }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          // The id `show` and `rm` take: a dead job's id, or a poison message's own.
          ['id', 'task', 'resource', 'reason', 'attempts', 'replayable', 'dead at'],
          page.items.map((d) => [
            d.id,
            d.taskType,
            d.resource,
            d.reason,
            d.attempts,
            d.replayable,
            d.deadAt,
          ]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );

  dlq
    .command('show')
    .description('a dead letter: why it died, its last error, and its message (secrets redacted)')
    .argument('<job>', "job id (or a poison message's id from `dlq ls --json`)", uuidArg)
    .action(
      action(env, async (ctx, jobId: string) => {
        const api = ctx.api();
        const letter = await call(
          api,
          api.client.GET('/api/v1/dlq/{jobId}', { params: { path: { jobId } } }),
        );
        ctx.out.result(letter, () => printDeadLetter(ctx, letter));
      }),
    );

  withFilters(
    dlq
      .command('replay')
      .description('replay one dead job, or with --all every one matching the filters')
      .argument('[job]', 'job id', uuidArg)
      .option('--all', 'every dead job matching the filters')
      .option(
        '--params <json>',
        'one job: params merged into its own for the new run, as a JSON object: only what changes (a mended date), null removes one',
        jsonObjectArg,
      ),
  ).action(
    action(
      env,
      async (
        ctx,
        jobId: string | undefined,
        opts: FilterOptions & { all?: boolean; params?: Record<string, unknown> },
      ) => {
        if (!jobId === !opts.all)
          throw usageError('give a job id, or --all (with filters) to replay many');
        if (opts.params && !jobId)
          throw usageError('--params replays one job: give its id, not --all');
        const api = ctx.api();
        const replayed = jobId
          ? await call(
              api,
              api.client.POST('/api/v1/dlq/{jobId}/replay', {
                params: { path: { jobId } },
                ...(opts.params && { body: { params: opts.params } }),
              }),
            )
          : await replayAll(api, await filterOf(api, opts));
        ctx.out.result(replayed, () => {
          ctx.out.success(`Replayed ${replayed.replayed.length} job(s).`);
          for (const id of replayed.replayed) ctx.out.line(id);
        });
      },
    ),
  );

  /**
   * Every dead job the filter matches: one call replays the oldest 10,000 and says whether more
   * match, so calls follow until none are left. Each call commits on its own: when one fails,
   * the error says how many were replayed before it.
   */
  async function replayAll(
    api: Api,
    body: Awaited<ReturnType<typeof filterOf>>,
  ): Promise<{ replayed: string[]; more: boolean }> {
    const replayed: string[] = [];
    for (;;) {
      let page: { replayed: string[]; more: boolean };
      try {
        page = await call(api, api.client.POST('/api/v1/dlq/replay', { body }));
      } catch (err) {
        if (replayed.length > 0 && err instanceof Error) {
          err.message += ` (after ${replayed.length} job(s) were replayed)`;
        }
        throw err;
      }
      replayed.push(...page.replayed);
      // Nothing taken while more match (all locked by another replay): that one replays them.
      if (!page.more || page.replayed.length === 0) return { replayed, more: page.more };
    }
  }

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
