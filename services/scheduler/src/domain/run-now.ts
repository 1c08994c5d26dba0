import { randomUUID } from 'node:crypto';
import type { Job, Platform, TaskType } from '@psc/contracts';
import { ConflictError, NotFoundError, type Clock } from '@psc/core';
import type { PlatformRepository, PlatformView } from '../data-access/platform.repository.ts';

/** Run-now jobs jump the queue unless the caller says otherwise. */
export const RUN_NOW_PRIORITY = 9;

export interface RunNowRequest {
  taskType: TaskType;
  platformId?: string | undefined;
  resource?: string | undefined;
  priority?: number | undefined;
  params: Record<string, unknown>;
}

/**
 * Enqueues jobs now: for one resource, every resource of one platform that runs the task, or
 * (without a platform) every active platform's. Uses the scheduler's own platform projection;
 * a platform it has not heard of yet (its event still in flight) is asked of the registry.
 */
export function createRunNow(deps: {
  registry: { get(id: string): Promise<Platform> };
  platforms: PlatformRepository;
  /** Inserts the jobs and their `job.run`s in one transaction. */
  enqueue: (jobs: Job[], correlationId?: string) => Promise<void>;
  clock: Clock;
  currentTraceId: () => string | null;
}) {
  async function platformById(id: string): Promise<PlatformView> {
    const known = await deps.platforms.get(id);
    if (known) return known;
    const p = await deps.registry.get(id);
    await deps.platforms.upsert(
      {
        id: p.id,
        name: p.name,
        active: p.active,
        priority: p.priority,
        version: p.version,
        baseUrl: p.baseUrl,
        ...(p.schedule ? { schedule: p.schedule } : {}),
        resources: p.resources.map((r) => ({
          name: r.name,
          tasks: r.tasks,
          ...(r.schedule ? { schedule: r.schedule } : {}),
        })),
      },
      deps.clock.now(),
    );
    const stored = await deps.platforms.get(id);
    if (!stored) throw new NotFoundError(`platform ${id} not found`);
    return stored;
  }

  return async function runNow(
    request: RunNowRequest,
    correlationId?: string,
    trigger: Job['trigger'] = 'api',
  ): Promise<{ jobs: { id: string; status: 'queued' }[] }> {
    const targets: { platform: PlatformView; resource: string }[] = [];
    if (request.platformId) {
      const platform = await platformById(request.platformId);
      if (!platform.active) throw new ConflictError(`platform ${platform.name} is not active`);
      const resources = request.resource
        ? platform.resources.filter((r) => r.name === request.resource)
        : platform.resources.filter((r) => r.tasks.includes(request.taskType));
      if (request.resource && resources.length === 0)
        throw new NotFoundError(`platform ${platform.name} has no resource ${request.resource}`);
      if (request.resource && !resources[0]?.tasks.includes(request.taskType))
        throw new ConflictError(
          `resource ${request.resource} does not run ${request.taskType} tasks`,
        );
      if (resources.length === 0)
        throw new ConflictError(
          `platform ${platform.name} has no resource running ${request.taskType} tasks`,
        );
      for (const r of resources) targets.push({ platform, resource: r.name });
    } else {
      if (request.resource) throw new ConflictError('name a platformId to run one resource');
      for (const platform of await deps.platforms.listActive())
        for (const r of platform.resources)
          if (r.tasks.includes(request.taskType)) targets.push({ platform, resource: r.name });
    }

    const now = deps.clock.now();
    const traceId = deps.currentTraceId();
    const jobs: Job[] = targets.map(({ platform, resource }) => ({
      id: randomUUID(),
      platformId: platform.id,
      resource,
      taskType: request.taskType,
      status: 'queued',
      priority: request.priority ?? RUN_NOW_PRIORITY,
      trigger,
      attempts: 0,
      run: 1,
      params: request.params,
      stats: null,
      error: null,
      nextAttemptAt: null,
      traceId,
      scheduledFor: null,
      createdAt: now.toISOString(),
      startedAt: null,
      finishedAt: null,
      updatedAt: now.toISOString(),
    }));
    if (jobs.length > 0) await deps.enqueue(jobs, correlationId);
    return { jobs: jobs.map((j) => ({ id: j.id, status: 'queued' as const })) };
  };
}

export type RunNow = ReturnType<typeof createRunNow>;
