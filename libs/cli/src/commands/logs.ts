import { Option, type Command } from 'commander';
import { fieldsText, LOG_LEVELS, type LogLevel } from '@psc/api-client';
import { action } from '../context.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { isoTimeArg, platformId, uuidArg } from '../refs.ts';

interface LogOptions extends PagingOptions {
  level: LogLevel;
  service?: string;
  platform?: string;
  job?: string;
  since?: string;
  until?: string;
}

const LOGS: Paging = { max: 1000, default: 50, rows: 'lines', more: 'older lines' };
const AUDIT: Paging = { max: 500, default: 50, rows: 'entries' };

export function logsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  withPaging(
    program
      .command('logs')
      .description("every service's warnings and errors, and each job's own lines, newest first")
      .addOption(
        new Option('-l, --level <level>', 'that level and above')
          .choices(LOG_LEVELS)
          .default('info'),
      )
      .option('-s, --service <service>', 'e.g. sync-worker')
      .option('-p, --platform <platform>', 'platform id or name')
      .option('-j, --job <job>', 'one job’s lines', uuidArg)
      .option('--since <iso-time>', 'at or after, e.g. 2026-01-01T00:00:00Z', isoTimeArg)
      .option('--until <iso-time>', 'before: what led up to a moment', isoTimeArg),
    LOGS,
  ).action(
    action(env, async (ctx, opts: LogOptions) => {
      const api = ctx.api();
      const id = opts.platform ? await platformId(api, opts.platform) : undefined;
      const logs = await readList(api, LOGS, opts, (query) =>
        api.client.GET('/api/v1/logs', {
          params: {
            query: {
              ...query,
              level: opts.level,
              ...(opts.service ? { service: opts.service } : {}),
              ...(id ? { platformId: id } : {}),
              ...(opts.job ? { jobId: opts.job } : {}),
              ...(opts.since ? { since: opts.since } : {}),
              ...(opts.until ? { until: opts.until } : {}),
            },
          },
        }),
      );
      ctx.out.result(logs, () => {
        ctx.out.table(
          ['at', 'level', 'service', 'job', 'message', 'fields'],
          logs.items.map((e) => [
            e.at,
            e.level,
            e.service,
            e.jobId,
            e.message,
            fieldsText(e.fields),
          ]),
        );
        printMore(ctx.out, LOGS, logs);
      });
    }),
  );

  withPaging(
    program
      .command('audit')
      .description('who (key id) changed what, and why, newest first')
      .option('--target <id>', 'only what was done to this platform, job, key…')
      .option('--action <action>', 'only this action, or its first parts: dlq, job.run-now…')
      .option('--actor <keyId>', 'only what this key did', uuidArg),
    AUDIT,
  ).action(
    action(
      env,
      async (ctx, opts: PagingOptions & { target?: string; action?: string; actor?: string }) => {
        const api = ctx.api();
        const page = await readList(api, AUDIT, opts, (query) =>
          api.client.GET('/api/v1/audit', {
            params: {
              query: {
                ...query,
                ...(opts.target ? { targetId: opts.target } : {}),
                ...(opts.action ? { action: opts.action } : {}),
                ...(opts.actor ? { actorKeyId: opts.actor } : {}),
              },
            },
          }),
        );
        ctx.out.result(page, () => {
          ctx.out.table(
            ['at', 'key', 'action', 'target', 'details'],
            page.items.map((a) => [
              a.at,
              a.actorKeyId,
              a.action,
              `${a.targetType} ${a.targetId}`,
              fieldsText(a.details),
            ]),
          );
          printMore(ctx.out, AUDIT, page);
        });
      },
    ),
  );
}
