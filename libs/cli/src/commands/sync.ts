import type { components } from '@psc/api-client';
import { Argument, type Command } from 'commander';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { allSucceeded, isFinished, printJobStats, watchJobs, type Job } from '../jobs-watch.ts';
import { platformId, positiveIntArg } from '../refs.ts';

type SyncStatus = components['schemas']['PlatformSyncStatus'];

interface SyncOptions {
  wait: boolean;
  timeout?: number;
  reason?: string;
}

function printStatus(ctx: Context, status: SyncStatus): void {
  ctx.out.result(status, () => {
    ctx.out.fields({
      platform: status.platformId,
      syncing: status.isRunning ? 'on its schedule' : 'stopped',
      interval: status.syncInterval === null ? null : `${status.syncInterval}s`,
      cron: status.cron,
      'last update': status.lastUpdate,
      'last job': status.lastJob
        ? `${status.lastJob.id} ${status.lastJob.status} (${status.lastJob.resource})`
        : null,
    });
  });
}

/**
 * Reports jobs that ran to the end: their stats, and exit 1 unless every one succeeded (the
 * output comes first, so a script still gets the JSON of a failed run).
 */
export function reportFinished(ctx: Context, jobs: Job[]): void {
  ctx.out.result({ jobs }, () => printJobStats(ctx.out, jobs));
  const pending = jobs.filter((j) => !isFinished(j));
  if (pending.length > 0) {
    throw new CliError(`${pending.length} job(s) still running when the wait ended`, {
      exitCode: EXIT.failed,
      hint: `Follow them with \`psc jobs watch ${pending[0]!.id}\`.`,
    });
  }
  if (!allSucceeded(jobs)) {
    const bad = jobs.filter((j) => j.status !== 'succeeded');
    throw new CliError(`${bad.length} of ${jobs.length} job(s) did not succeed`, {
      exitCode: EXIT.failed,
      hint: `See why with \`psc jobs show ${bad[0]!.id}\`; a dead job can be replayed with \`psc dlq replay\`.`,
    });
  }
}

export function syncCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('sync')
    .description(
      "a platform's syncing: start/stop its schedule, run it once now, or show its status",
    )
    .argument('<platform>', 'platform id or name')
    .addArgument(new Argument('<action>').choices(['start', 'stop', 'once', 'status']))
    .option('--no-wait', 'once: queue the jobs and return their ids without waiting')
    .option(
      '--timeout <seconds>',
      'once: stop waiting after this long (the jobs keep running)',
      positiveIntArg,
    )
    .option('--reason <text>', 'start/stop: why, kept in the audit trail')
    .addHelpText(
      'after',
      '\nExamples:\n  psc sync booths once          wait with a progress bar of pages and records, then print the stats\n  psc sync booths stop --reason "upstream migration"\n  psc sync booths status --json',
    )
    .action(
      action(env, async (ctx, ref: string, what: string, opts: SyncOptions) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        const path = { params: { path: { id } } };
        const reason = opts.reason ? { body: { reason: opts.reason } } : {};
        if (what === 'status') {
          printStatus(
            ctx,
            await call(api, api.client.GET('/api/v1/platforms/{id}/sync/status', path)),
          );
        } else if (what === 'start') {
          printStatus(
            ctx,
            await call(
              api,
              api.client.POST('/api/v1/platforms/{id}/sync/start', { ...path, ...reason }),
            ),
          );
        } else if (what === 'stop') {
          printStatus(
            ctx,
            await call(
              api,
              api.client.POST('/api/v1/platforms/{id}/sync/stop', { ...path, ...reason }),
            ),
          );
        } else {
          const queued = await call(
            api,
            api.client.POST('/api/v1/platforms/{id}/sync/once', {
              params: { path: { id }, query: { wait: 0 } },
            }),
          );
          const ids = queued.jobs.map((j) => j.id);
          if (!opts.wait) {
            ctx.out.result(queued, () => {
              ctx.out.table(
                ['job', 'resource', 'status'],
                queued.jobs.map((j) => [j.id, j.resource, j.status]),
              );
              ctx.out.line(`Follow them with \`psc jobs watch <job>\`.`);
            });
            return;
          }
          const jobs = await watchJobs(api, ctx.out, ids, {
            label: ref,
            ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout * 1000 }),
          });
          reportFinished(ctx, jobs);
        }
      }),
    );
}
