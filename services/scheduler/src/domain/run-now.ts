import { randomUUID } from 'node:crypto';
import type { Job, RpcResponse, RunNowRequest, jobRunNow } from '@psc/contracts';
import { ConflictError, NotFoundError, toErrorBody, type Clock } from '@psc/core';
import { newTraceId } from './trace-id.ts';
import type { PlatformRepository, PlatformView } from '../data-access/platform.repository.ts';

/** Run-now jobs jump the queue unless the caller says otherwise. */
const RUN_NOW_PRIORITY = 9;

type RunNowResult = RpcResponse<typeof jobRunNow>['results'][number];

/**
 * Enqueues jobs now: for one resource, every resource of one platform that runs the task, or
 * (without a platform) every active platform's. Uses the scheduler's own platform projection;
 * a platform it has not heard of yet (its event still in flight) is asked of the registry.
 */
export function createRunNow(deps: {
  platforms: PlatformRepository;
  /** The projection's platform, or the registry's for one whose event is still in flight. */
  platformById: (id: string, known: ReadonlyMap<string, PlatformView>) => Promise<PlatformView>;
  /** Inserts the jobs and their `job.run`s in one transaction. */
  enqueue: (jobs: Job[], correlationId?: string) => Promise<void>;
  clock: Clock;
  currentTraceId: () => string | null;
}) {
  /** The jobs one request asks for, or why it cannot be run. */
  async function jobsFor(
    request: RunNowRequest,
    known: ReadonlyMap<string, PlatformView>,
    now: Date,
    trigger: Job['trigger'],
  ): Promise<Job[]> {
    const targets: { platform: PlatformView; resource: string }[] = [];
    if (request.platformId) {
      const platform = await deps.platformById(request.platformId, known);
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
    // A trace id even when nothing is traced (no exporter): the job's log lines carry it.
    const traceId = request.traceId ?? deps.currentTraceId() ?? newTraceId();
    return targets.map(({ platform, resource }) => ({
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
  }

  /**
   * Several callers' run-now requests at once: each is checked on its own (one's 404 does not
   * fail another), and every job of every request is enqueued in one transaction.
   */
  return async function runNow(
    requests: RunNowRequest[],
    correlationId?: string,
    trigger: Job['trigger'] = 'api',
  ): Promise<RunNowResult[]> {
    const now = deps.clock.now();
    // One query for every platform the batch names (the scheduler's own projection).
    const known = await deps.platforms.getMany(
      requests.flatMap((r) => (r.platformId ? [r.platformId] : [])),
    );
    const outcomes = await Promise.all(
      requests.map((r) =>
        jobsFor(r, known, now, trigger).then(
          (jobs) => ({ ok: true as const, jobs }),
          (err: unknown) => ({ ok: false as const, err }),
        ),
      ),
    );
    const all = outcomes.flatMap((o) => (o.ok ? o.jobs : []));
    if (all.length > 0) await deps.enqueue(all, correlationId);
    return outcomes.map((o) =>
      o.ok
        ? { ok: true, jobs: o.jobs.map((j) => ({ id: j.id, status: 'queued' as const })) }
        : { ok: false, error: toErrorBody(o.err) },
    );
  };
}

export type RunNow = ReturnType<typeof createRunNow>;
