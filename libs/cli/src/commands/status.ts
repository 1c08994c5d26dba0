import type { Command } from 'commander';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';

/** Messages per second as the broker reports them; nothing when it does not (no management API). */
const rate = (value: number | null): string | null => (value === null ? null : value.toFixed(1));

/**
 * `psc status`: the pipeline at a glance, as an on-call engineer asks first — is work flowing,
 * and if not, why. Exits 1 when the pipeline is degraded or stalled, so a script can gate on it.
 */
export function statusCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('status')
    .description(
      'is the pipeline idle, busy, degraded or stalled, and why: its queues, workers and open breakers',
    )
    .action(
      action(env, async (ctx) => {
        const api = ctx.api();
        const pipeline = await call(api, api.client.GET('/api/v1/monitoring/pipeline'));
        ctx.out.result(pipeline, () => {
          ctx.out.fields({
            pipeline: pipeline.status,
            why: pipeline.reasons.length > 0 ? pipeline.reasons.join('; ') : null,
            workers: pipeline.workers,
            'open breakers':
              pipeline.openBreakers.length > 0
                ? pipeline.openBreakers.map((b) => `${b.platformId} (${b.workerId})`).join('\n')
                : null,
          });
          ctx.out.line();
          ctx.out.table(
            ['queue', 'ready', 'unacked', 'consumers', 'in/s', 'out/s', 'dead letters'],
            pipeline.queues.map((q) => [
              q.exists ? q.name : `${q.name} (missing)`,
              q.ready,
              q.unacked,
              q.consumers,
              rate(q.publishRate),
              rate(q.deliverRate),
              q.deadLetter,
            ]),
          );
        });
        if (pipeline.status === 'degraded' || pipeline.status === 'stalled') {
          throw new CliError(`the pipeline is ${pipeline.status}`, {
            exitCode: EXIT.failed,
            hint: 'See why above; `psc breakers ls`, `psc workers` and `psc logs -l warn` tell more.',
          });
        }
      }),
    );

  program
    .command('workers')
    .description('live sync-worker and collector processes, from their heartbeats')
    .action(
      action(env, async (ctx) => {
        const api = ctx.api();
        const workers = await call(api, api.client.GET('/api/v1/monitoring/workers'));
        ctx.out.result(workers, () => {
          ctx.out.table(
            [
              'worker',
              'service',
              'host',
              'pid',
              'running',
              'succeeded',
              'failed',
              'started',
              'last beat',
            ],
            workers.items.map((w) => [
              w.workerId,
              w.service,
              w.host,
              w.pid,
              w.currentJobs.length,
              w.processed.succeeded,
              w.processed.failed,
              w.startedAt,
              w.at,
            ]),
          );
        });
      }),
    );
}
