import type { Knex } from 'knex';
import {
  EXCHANGES,
  collectChild,
  collectionCompleted,
  jobFailed,
  jobStarted,
  jobSucceeded,
  type CollectChild,
  type JobRun,
  type MessageDefinition,
  type PayloadOf,
  type PlatformWithSecrets as Platform,
  type ResourceDefinition,
} from '@psc/contracts';
import { AppError, NonRetryableError, type Clock } from '@psc/core';
import {
  createEnvelope,
  emitEvent as emitTo,
  jobFailure,
  type Emit,
  type Outbox,
} from '@psc/messaging';
import { asArray, evaluate } from '@psc/platform-http';
import type {
  CollectionRepository,
  Counter,
  NewDocument,
} from '../data-access/collection.repository.ts';
import type { LogRepository } from '../data-access/log.repository.ts';
import { missingParams, renderRequest, type RenderedRequest } from './request-template.ts';

export interface JobContext {
  attempt: number;
  correlationId: string;
}

export interface CollectJobDeps {
  platforms: { get(id: string): Promise<Platform> };
  fetch: (platform: Platform, request: RenderedRequest) => Promise<{ body: unknown; url: string }>;
  collections: CollectionRepository;
  logs: LogRepository;
  outbox: Outbox;
  clock: Clock;
  workerId: string;
}

function collectResource(platform: Platform, name: string): ResourceDefinition {
  const resource = platform.resources.find((r) => r.name === name);
  if (!resource)
    throw new NonRetryableError('unknown_resource', `platform has no resource ${name}`);
  if (!resource.tasks.includes('collect')) {
    throw new NonRetryableError('not_a_collector', `resource ${name} has no collect task`);
  }
  return resource;
}

export function createCollectJob(deps: CollectJobDeps) {
  const emitEvent = <M extends MessageDefinition>(
    emit: Emit,
    def: M,
    payload: PayloadOf<M>,
    correlationId: string,
  ) => emitTo(emit, def, payload, { correlationId, now: deps.clock.now() });

  async function documentsOf(
    body: unknown,
    itemsPath: string | undefined,
    base: Omit<NewDocument, 'data'>,
  ): Promise<NewDocument[]> {
    const items = itemsPath ? asArray(await evaluate(itemsPath, body, 'itemsPath')) : [body];
    return items.map((data) => ({ ...base, data }));
  }

  /** Ends a collection: exactly one caller gets here per job (the barrier's last count). */
  function complete(
    emit: Emit,
    c: { jobId: string; platformId: string; resource: string; attempt: number },
    counter: Counter | null,
    documents: number,
    correlationId: string,
  ) {
    const at = deps.clock.now().toISOString();
    const failed = counter !== null && counter.failed > 0;
    emitEvent(
      emit,
      collectionCompleted,
      {
        jobId: c.jobId,
        platformId: c.platformId,
        resource: c.resource,
        status: failed ? 'failed' : 'succeeded',
        documents,
        children: counter && {
          total: counter.total,
          succeeded: counter.succeeded,
          failed: counter.failed,
        },
        at,
      },
      correlationId,
    );
    if (failed) {
      emitEvent(
        emit,
        jobFailed,
        {
          jobId: c.jobId,
          attempt: c.attempt,
          at,
          error: {
            message: `${counter.failed} of ${counter.total} children failed (${counter.succeeded} succeeded)`,
            class: 'children_failed',
          },
          outcome: 'failed',
        },
        correlationId,
      );
    } else {
      const stats = { fetched: documents, inserted: documents, updated: 0, unchanged: 0 };
      emitEvent(
        emit,
        jobSucceeded,
        { jobId: c.jobId, attempt: c.attempt, at, stats },
        correlationId,
      );
    }
  }

  async function collect(job: JobRun, ctx: JobContext): Promise<void> {
    const platform = await deps.platforms.get(job.platformId);
    const resource = collectResource(platform, job.resource);
    const missing = missingParams(resource.params, job.params);
    if (missing.length > 0) {
      throw new NonRetryableError(
        'missing_param',
        `collect run needs params: ${missing.join(', ')}`,
      );
    }
    const { body, url } = await deps.fetch(platform, renderRequest(resource.request, job.params));
    const startedAt = deps.clock.now();
    const base = {
      jobId: job.jobId,
      platformId: platform.id,
      resource: resource.name,
      attempt: ctx.attempt,
    };

    if (resource.fanOut) {
      const entries = asArray(
        await evaluate(resource.fanOut.entriesPath, body, 'fanOut.entriesPath'),
      );
      const bad = entries.findIndex((e) => !e || typeof e !== 'object' || Array.isArray(e));
      if (bad !== -1) {
        throw new NonRetryableError('bad_index', `index entry ${bad} is not an object`);
      }
      await deps.outbox.transaction(async (trx, emit) => {
        const fresh = await deps.collections.insert(trx, {
          ...base,
          params: job.params,
          status: entries.length === 0 ? 'succeeded' : 'running',
          documents: 0,
          childrenTotal: entries.length,
          startedAt,
          finishedAt: entries.length === 0 ? startedAt : null,
        });
        if (!fresh) return; // another delivery fanned out already
        await deps.collections.insertChildren(trx, job.jobId, entries.length);
        entries.forEach((entry, index) => {
          emit({
            exchange: EXCHANGES.jobs,
            routingKey: 'collect',
            priority: job.priority,
            envelope: createEnvelope(
              collectChild,
              {
                parentJobId: job.jobId,
                index,
                platformId: platform.id,
                resource: resource.name,
                priority: job.priority,
                params: { ...job.params, ...(entry as Record<string, unknown>) },
              },
              { correlationId: ctx.correlationId, now: startedAt },
            ),
          });
        });
        if (entries.length === 0) {
          complete(
            emit,
            base,
            { attempt: ctx.attempt, total: 0, succeeded: 0, failed: 0, documents: 0 },
            0,
            ctx.correlationId,
          );
        }
      });
      return;
    }

    const docs = await documentsOf(body, resource.itemsPath, {
      jobId: job.jobId,
      childIndex: null,
      platformId: platform.id,
      resource: resource.name,
      params: job.params,
      url,
      fetchedAt: startedAt,
    });
    await deps.outbox.transaction(async (trx, emit) => {
      const fresh = await deps.collections.insert(trx, {
        ...base,
        params: job.params,
        status: 'succeeded',
        documents: docs.length,
        childrenTotal: null,
        startedAt,
        finishedAt: deps.clock.now(),
      });
      if (!fresh) return;
      await deps.collections.insertDocuments(trx, docs);
      complete(emit, base, null, docs.length, ctx.correlationId);
    });
  }

  async function endChild(
    trx: Knex.Transaction,
    emit: Emit,
    child: CollectChild,
    outcome: { kind: 'succeeded'; docs: NewDocument[] } | { kind: 'failed'; error: string },
    correlationId: string,
  ): Promise<void> {
    const counter = await deps.collections.endChild(trx, {
      parentJobId: child.parentJobId,
      index: child.index,
      outcome: outcome.kind,
      ...(outcome.kind === 'failed' ? { error: outcome.error } : {}),
      documents: outcome.kind === 'succeeded' ? outcome.docs.length : 0,
      at: deps.clock.now(),
    });
    if (!counter) return; // ended by an earlier delivery
    if (outcome.kind === 'succeeded') await deps.collections.insertDocuments(trx, outcome.docs);
    else {
      await deps.logs.insert(
        {
          at: deps.clock.now().toISOString(),
          level: 'warn',
          service: 'collector',
          platformId: child.platformId,
          jobId: child.parentJobId,
          message: `child ${child.index} failed: ${outcome.error}`,
          fields: { childIndex: child.index },
          traceId: null,
        },
        undefined,
        trx,
      );
    }
    if (counter.succeeded + counter.failed === counter.total) {
      const status = counter.failed > 0 ? 'failed' : 'succeeded';
      await deps.collections.finish(trx, child.parentJobId, status, deps.clock.now());
      complete(
        emit,
        {
          jobId: child.parentJobId,
          platformId: child.platformId,
          resource: child.resource,
          attempt: counter.attempt,
        },
        counter,
        counter.documents,
        correlationId,
      );
    }
  }

  return {
    async run(job: JobRun, ctx: JobContext): Promise<void> {
      if (await deps.collections.find(job.jobId)) return; // a redelivery of a job already done
      if (
        job.trigger === 'schedule' &&
        !(await deps.collections.isEnabled(job.platformId, job.resource))
      ) {
        await deps.outbox.transaction((_trx, emit) =>
          emitEvent(
            emit,
            jobFailed,
            {
              jobId: job.jobId,
              attempt: ctx.attempt,
              at: deps.clock.now().toISOString(),
              error: { message: 'collector is stopped', class: 'collector_stopped' },
              outcome: 'cancelled',
            },
            ctx.correlationId,
          ),
        );
        return;
      }
      await deps.outbox.transaction((_trx, emit) =>
        emitEvent(
          emit,
          jobStarted,
          {
            jobId: job.jobId,
            attempt: ctx.attempt,
            at: deps.clock.now().toISOString(),
            workerId: deps.workerId,
          },
          ctx.correlationId,
        ),
      );
      await collect(job, ctx);
    },

    async runChild(child: CollectChild, ctx: JobContext): Promise<void> {
      if ((await deps.collections.childStatus(child.parentJobId, child.index)) !== 'pending')
        return;
      const platform = await deps.platforms.get(child.platformId);
      const resource = collectResource(platform, child.resource);
      if (!resource.fanOut) throw new NonRetryableError('no_fan_out', 'resource has no fanOut');
      const { body, url } = await deps.fetch(
        platform,
        renderRequest(resource.fanOut.request, child.params),
      );
      const docs = await documentsOf(body, resource.fanOut.itemsPath, {
        jobId: child.parentJobId,
        childIndex: child.index,
        platformId: platform.id,
        resource: resource.name,
        params: child.params,
        url,
        fetchedAt: deps.clock.now(),
      });
      await deps.outbox.transaction((trx, emit) =>
        endChild(trx, emit, child, { kind: 'succeeded', docs }, ctx.correlationId),
      );
    },

    /** A child whose retries are exhausted (or that can never succeed) counts as failed. */
    async childFailed(
      child: CollectChild,
      err: unknown,
      outcome: 'retrying' | 'dead',
      ctx: JobContext,
    ) {
      if (outcome === 'retrying') return;
      const message = err instanceof AppError ? `${err.code}: ${err.message}` : 'internal error';
      await deps.outbox.transaction((trx, emit) =>
        endChild(trx, emit, child, { kind: 'failed', error: message }, ctx.correlationId),
      );
    },

    async recordFailure(job: JobRun, err: unknown, outcome: 'retrying' | 'dead', ctx: JobContext) {
      await deps.outbox.transaction((_trx, emit) =>
        emitEvent(
          emit,
          jobFailed,
          {
            jobId: job.jobId,
            attempt: ctx.attempt,
            at: deps.clock.now().toISOString(),
            ...jobFailure(err, outcome),
          },
          ctx.correlationId,
        ),
      );
    },
  };
}

export type CollectJob = ReturnType<typeof createCollectJob>;
