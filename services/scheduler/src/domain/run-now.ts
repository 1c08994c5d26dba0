import { randomUUID } from 'node:crypto';
import type { Job, RpcResponse, RunNowRequest, jobRunNow } from '@psc/contracts';
import { ConflictError, NotFoundError, toErrorBody, type Clock } from '@psc/core';
import { missingParamDetails, refuseMissingParams } from './collect-params.ts';
import { newTraceId } from './trace-id.ts';
import type { PlatformRepository, PlatformView } from '../data-access/platform.repository.ts';

/** Run-now jobs jump the queue unless the caller says otherwise. */
const RUN_NOW_PRIORITY = 9;

/** Refuses a collect run without a param one of its resources declares, naming each. */
function checkParams(
  request: RunNowRequest,
  targets: readonly { resource: PlatformView['resources'][number] }[],
): void {
  refuseMissingParams(
    targets.flatMap(({ resource }) =>
      missingParamDetails(request.taskType, resource, request.params),
    ),
  );
}

/** Tries on fresh reads after the kept platforms could not answer a batch. */
const FRESH_TRIES = 3;

type RunNowResult = RpcResponse<typeof jobRunNow>['results'][number];

/**
 * Enqueues jobs now: for one resource, every resource of one platform that runs the task, or
 * (without a platform) every active platform's. Uses the scheduler's own platform projection;
 * a platform it has not heard of yet (its event still in flight) is asked of the registry.
 */
export function createRunNow(deps: {
  platforms: Pick<PlatformRepository, 'listActive'>;
  /**
   * The platforms of `ids` (those that exist), kept from earlier batches unless `fresh`. A kept
   * one may be out of date: `enqueue` checks the jobs made from it, and a refusal is checked again.
   */
  platformsById: (ids: readonly string[], fresh: boolean) => Promise<Map<string, PlatformView>>;
  /** The projection's platform, or the registry's for one whose event is still in flight. */
  platformById: (id: string, known: ReadonlyMap<string, PlatformView>) => Promise<PlatformView>;
  /**
   * Inserts the jobs and their `job.run`s in one statement, if every platform's projection is
   * still at the revision given, active and not deleted; false (and nothing written) if not.
   */
  enqueue: (
    jobs: Job[],
    revisions: ReadonlyMap<string, number>,
    correlationId?: string,
    /** By job id: the `traceparent` its `job.run` goes under, when not the writer's context. */
    traceParents?: ReadonlyMap<string, string>,
  ) => Promise<boolean>;
  clock: Clock;
  currentTraceId: () => string | null;
}) {
  /** The jobs one request asks for, or why it cannot be run; notes each platform's revision. */
  async function jobsFor(
    request: RunNowRequest,
    known: ReadonlyMap<string, PlatformView>,
    revisions: Map<string, number>,
    now: Date,
    trigger: Job['trigger'],
  ): Promise<Job[]> {
    const targets: { platform: PlatformView; resource: PlatformView['resources'][number] }[] = [];
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
      for (const r of resources) targets.push({ platform, resource: r });
    } else {
      if (request.resource) throw new ConflictError('name a platformId to run one resource');
      for (const platform of await deps.platforms.listActive())
        for (const r of platform.resources)
          if (r.tasks.includes(request.taskType)) targets.push({ platform, resource: r });
    }
    checkParams(request, targets);
    for (const { platform } of targets) revisions.set(platform.id, platform.revision);
    // A trace id even when nothing is traced (no exporter): the job's log lines carry it.
    const traceId = request.traceId ?? deps.currentTraceId() ?? newTraceId();
    return targets.map(({ platform, resource }) => ({
      id: randomUUID(),
      platformId: platform.id,
      resource: resource.name,
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
   * One try at a batch: its answers, or null when what it read of a platform may be out of date
   * (a kept platform refused a request, or the insert found one changed).
   */
  async function attempt(
    requests: RunNowRequest[],
    fresh: boolean,
    correlationId: string | undefined,
    trigger: Job['trigger'],
  ): Promise<RunNowResult[] | null> {
    const now = deps.clock.now();
    // One read for every platform the batch names (none when all are kept from earlier ones).
    const known = await deps.platformsById(
      requests.flatMap((r) => (r.platformId ? [r.platformId] : [])),
      fresh,
    );
    const revisions = new Map<string, number>();
    const outcomes = await Promise.all(
      requests.map((r) =>
        jobsFor(r, known, revisions, now, trigger).then(
          (jobs) => ({ ok: true as const, jobs }),
          (err: unknown) => ({ ok: false as const, err }),
        ),
      ),
    );
    if (!fresh && outcomes.some((o) => !o.ok)) return null;
    const all = outcomes.flatMap((o) => (o.ok ? o.jobs : []));
    const traceParents = new Map<string, string>();
    outcomes.forEach((o, i) => {
      const parent = requests[i]!.traceparent;
      if (o.ok && parent) for (const job of o.jobs) traceParents.set(job.id, parent);
    });
    if (all.length > 0 && !(await deps.enqueue(all, revisions, correlationId, traceParents))) {
      return null;
    }
    return outcomes.map((o) =>
      o.ok
        ? { ok: true, jobs: o.jobs.map((j) => ({ id: j.id, status: 'queued' as const })) }
        : { ok: false, error: toErrorBody(o.err) },
    );
  }

  /**
   * Several callers' run-now requests at once: each is checked on its own (one's 404 does not
   * fail another), and every job of every request is enqueued in one statement. Platforms kept
   * from earlier batches answer first; a batch they cannot answer for sure is tried again on
   * fresh reads (a platform changing under every try fails the batch with 409).
   */
  return async function runNow(
    requests: RunNowRequest[],
    correlationId?: string,
    trigger: Job['trigger'] = 'api',
  ): Promise<RunNowResult[]> {
    for (let tries = 0; tries < FRESH_TRIES + 1; tries += 1) {
      const results = await attempt(requests, tries > 0, correlationId, trigger);
      if (results) return results;
    }
    throw new ConflictError(
      'the platforms changed while their jobs were being enqueued; try again',
    );
  };
}

export type RunNow = ReturnType<typeof createRunNow>;
