import { Option, type Command } from 'commander';
import { fieldsText, LOG_LEVELS, type LogLevel } from '@psc/api-client';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { intArg, isoTimeArg, platformId, uuidArg } from '../refs.ts';

interface LogOptions {
  level: LogLevel;
  service?: string;
  platform?: string;
  job?: string;
  since?: string;
  until?: string;
  cursor?: string;
  limit: number;
}

export function logsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('logs')
    .description("every service's warnings and errors, and each job's own lines, newest first")
    .addOption(
      new Option('-l, --level <level>', 'that level and above').choices(LOG_LEVELS).default('info'),
    )
    .option('-s, --service <service>', 'e.g. sync-worker')
    .option('-p, --platform <platform>', 'platform id or name')
    .option('-j, --job <job>', 'one job’s lines', uuidArg)
    .option('--since <iso-time>', 'at or after, e.g. 2026-01-01T00:00:00Z', isoTimeArg)
    .option('--until <iso-time>', 'before: what led up to a moment', isoTimeArg)
    .option('--cursor <cursor>', 'the older lines after a page that printed it')
    .option('-n, --limit <n>', 'at most this many (1–1000)', intArg(1, 1000), 50)
    .action(
      action(env, async (ctx, opts: LogOptions) => {
        const api = ctx.api();
        const id = opts.platform ? await platformId(api, opts.platform) : undefined;
        const logs = await call(
          api,
          api.client.GET('/api/v1/logs', {
            params: {
              query: {
                level: opts.level,
                limit: opts.limit,
                ...(opts.service ? { service: opts.service } : {}),
                ...(id ? { platformId: id } : {}),
                ...(opts.job ? { jobId: opts.job } : {}),
                ...(opts.since ? { since: opts.since } : {}),
                ...(opts.until ? { until: opts.until } : {}),
                ...(opts.cursor ? { cursor: opts.cursor } : {}),
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
          if (logs.nextCursor)
            ctx.out.line(`(older lines: the same with --cursor ${logs.nextCursor})`);
        });
      }),
    );

  program
    .command('audit')
    .description('who (key id) changed what, and why, newest first')
    .option('--target <id>', 'only what was done to this platform, job, key…')
    .option('--action <action>', 'only this action, or its first parts: dlq, job.run-now…')
    .option('--actor <keyId>', 'only what this key did', uuidArg)
    .option('-n, --limit <n>', 'at most this many (1–500)', intArg(1, 500), 50)
    .action(
      action(
        env,
        async (ctx, opts: { target?: string; action?: string; actor?: string; limit: number }) => {
          const api = ctx.api();
          const page = await call(
            api,
            api.client.GET('/api/v1/audit', {
              params: {
                query: {
                  limit: opts.limit,
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
          });
        },
      ),
    );
}
