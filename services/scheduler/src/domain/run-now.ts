import { randomUUID } from 'node:crypto';
import { EXCHANGES, jobRun, type Job, type Platform, type TaskType } from '@psc/contracts';
import { ConflictError, NotFoundError, type Clock } from '@psc/core';
import { createEnvelope, type Outbox } from '@psc/messaging';
import type { JobRepository } from '../data-access/job.repository.ts';

/** Run-now jobs jump the queue unless the caller says otherwise. */
export const RUN_NOW_PRIORITY = 9;

export interface RunNowRequest {
  taskType: TaskType;
  platformId: string;
  resource: string;
  priority?: number | undefined;
  params: Record<string, unknown>;
}

export function createRunNow(deps: {
  platforms: { get(id: string): Promise<Platform> };
  jobs: JobRepository;
  outbox: Outbox;
  clock: Clock;
  currentTraceId: () => string | null;
}) {
  return async function runNow(
    request: RunNowRequest,
    correlationId?: string,
  ): Promise<{ jobs: { id: string; status: 'queued' }[] }> {
    const platform = await deps.platforms.get(request.platformId);
    const resource = platform.resources.find((r) => r.name === request.resource);
    if (!resource)
      throw new NotFoundError(`platform ${platform.name} has no resource ${request.resource}`);
    if (!resource.tasks.includes(request.taskType)) {
      throw new ConflictError(
        `resource ${request.resource} does not run ${request.taskType} tasks`,
      );
    }
    if (!platform.active) throw new ConflictError(`platform ${platform.name} is not active`);

    const now = deps.clock.now();
    const job: Job = {
      id: randomUUID(),
      platformId: platform.id,
      resource: resource.name,
      taskType: request.taskType,
      status: 'queued',
      priority: request.priority ?? RUN_NOW_PRIORITY,
      trigger: 'api',
      attempts: 0,
      params: request.params,
      stats: null,
      error: null,
      traceId: deps.currentTraceId(),
      createdAt: now.toISOString(),
      startedAt: null,
      finishedAt: null,
      updatedAt: now.toISOString(),
    };
    await deps.outbox.transaction(async (trx, emit) => {
      await deps.jobs.insert(trx, job);
      emit({
        exchange: EXCHANGES.jobs,
        routingKey: job.taskType,
        priority: job.priority,
        envelope: createEnvelope(
          jobRun,
          {
            jobId: job.id,
            platformId: job.platformId,
            resource: job.resource,
            taskType: job.taskType,
            priority: job.priority,
            trigger: job.trigger,
            params: job.params,
          },
          { id: job.id, correlationId: correlationId ?? job.id, now },
        ),
      });
    });
    return { jobs: [{ id: job.id, status: 'queued' }] };
  };
}
