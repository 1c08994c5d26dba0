import type { Knex } from 'knex';
import type { Clock } from '@psc/core';
import type { ControlRepository } from '../data-access/control.repository.ts';
import type { JobRepository } from '../data-access/job.repository.ts';
import type { ScheduleRepository } from '../data-access/schedule.repository.ts';

/**
 * A scheduled run finished: count it toward its schedule's failure streak, which pauses the
 * schedule (audited, with the reason) at `autoPauseAfterFailures`.
 */
export function createAutoPause(deps: {
  knex: Knex;
  clock: Clock;
  jobs: JobRepository;
  schedules: ScheduleRepository;
  control: ControlRepository;
}) {
  return async function onFinished(jobId: string, failed: boolean): Promise<void> {
    const job = await deps.jobs.findById(jobId);
    if (!job || job.trigger !== 'schedule') return;
    await deps.knex.transaction(async (trx) => {
      const key = { platformId: job.platformId, resource: job.resource, taskType: job.taskType };
      const paused = await deps.schedules.recordOutcome(trx, key, failed);
      if (paused)
        await deps.control.audit(trx, deps.clock.now(), {
          action: 'auto-pause',
          target: `platform:${job.platformId}`,
          reason: paused,
          detail: key,
        });
    });
  };
}
