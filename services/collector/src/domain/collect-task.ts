import {
  EXCHANGES,
  collectChild,
  collectionCompleted,
  type JobStats,
  type SealedPlatform as Platform,
  type ResourceDefinition,
} from '@psc/contracts';
import { NonRetryableError, type Clock } from '@psc/core';
import { CancelledError, type JobHandler, type RunContext } from '@psc/job-runner';
import { createEnvelope, type Emit } from '@psc/messaging';
import { asArray, assertStorableEach, evaluate } from '@psc/platform-http';
import type { CollectionRepository, NewDocument } from '../data-access/collection.repository.ts';
import { fetchPages, type CollectFetch } from './collect-pages.ts';
import { missingParams, renderRequest } from './request-template.ts';

export interface CollectDeps {
  platforms: { get(id: string): Promise<Platform> };
  fetch: CollectFetch;
  collections: CollectionRepository;
  clock: Clock;
  /** This replica: recorded on each document it fetches. */
  workerId: string;
}

/** A resource of the platform that runs collect tasks. */
export function collectResource(platform: Platform, name: string): ResourceDefinition {
  const resource = platform.resources.find((r) => r.name === name);
  if (!resource)
    throw new NonRetryableError('unknown_resource', `platform has no resource ${name}`);
  if (!resource.tasks.includes('collect')) {
    throw new NonRetryableError('not_a_collector', `resource ${name} has no collect task`);
  }
  return resource;
}

/** The items of a response: those at `itemsPath`, or the whole body as one; each storable. */
async function itemsOf(body: unknown, itemsPath: string | undefined): Promise<unknown[]> {
  const items = itemsPath ? asArray(await evaluate(itemsPath, body, 'itemsPath')) : [body];
  assertStorableEach(items, 'document');
  return items;
}

/** The documents of a response: the items at `itemsPath`, or the whole body as one. */
export async function documentsOf(
  body: unknown,
  itemsPath: string | undefined,
  base: Omit<NewDocument, 'data'>,
): Promise<NewDocument[]> {
  return (await itemsOf(body, itemsPath)).map((data) => ({ ...base, data }));
}

const collectedStats = (documents: number): JobStats => ({
  fetched: documents,
  inserted: documents,
  updated: 0,
  unchanged: 0,
});

/** The one `collection.completed` of a collection, emitted with whatever ends it. */
export function emitCompleted(
  emit: Emit,
  c: { jobId: string; platformId: string; resource: string },
  outcome: {
    status: 'succeeded' | 'failed';
    documents: number;
    children: { total: number; succeeded: number; failed: number } | null;
  },
  correlationId: string,
  now: Date,
): void {
  emit({
    exchange: EXCHANGES.events,
    routingKey: collectionCompleted.type,
    envelope: createEnvelope(
      collectionCompleted,
      { ...c, ...outcome, at: now.toISOString() },
      { correlationId, now },
    ),
  });
}

/**
 * How a fan-out collection ends once every child has ended (undefined before): failed when any
 * child failed, which fails the job (into the dead-letter queue, from which it can be replayed).
 */
export function collectionOutcome(counter: {
  total: number;
  succeeded: number;
  failed: number;
  documents: number;
}) {
  if (counter.succeeded + counter.failed < counter.total) return undefined;
  const failed = counter.failed > 0;
  const children = { total: counter.total, succeeded: counter.succeeded, failed: counter.failed };
  return {
    status: failed ? ('failed' as const) : ('succeeded' as const),
    completed: {
      status: failed ? ('failed' as const) : ('succeeded' as const),
      documents: counter.documents,
      children,
    },
    job: failed
      ? {
          kind: 'failed' as const,
          error: {
            class: 'children_failed',
            message: `${counter.failed} of ${counter.total} children failed (${counter.succeeded} succeeded)`,
          },
        }
      : { kind: 'succeeded' as const, stats: collectedStats(counter.documents) },
  };
}

/**
 * Stage 1 of a collection (seed 003): fetch the resource; store its documents, or — for a
 * fan-out resource — start one child per index entry (stage 2, `collect.child` messages), whose
 * last one to end finishes the job. A replayed job collects again as its next run.
 */
export function createCollectTask(
  deps: CollectDeps & {
    /**
     * Whether a scheduled run, queued at `queuedAt`, falls under a collector's stop this service
     * kept before the scheduler owned them (stop-handoff.ts): it is skipped.
     */
    stoppedHere: (platformId: string, resource: string, queuedAt: Date) => boolean;
    /** The most children one fan-out may start. */
    maxChildren: number;
  },
): JobHandler {
  return async (ctx: RunContext) => {
    const { job } = ctx;
    if (
      job.trigger === 'schedule' &&
      deps.stoppedHere(job.platformId, job.resource, ctx.queuedAt)
    ) {
      throw new CancelledError('collector_stopped', 'collector is stopped');
    }
    const platform = await deps.platforms.get(job.platformId);
    const resource = collectResource(platform, job.resource);
    const missing = missingParams(resource.params, job.params);
    if (missing.length > 0) {
      throw new NonRetryableError(
        'missing_param',
        `collect run needs params: ${missing.join(', ')}`,
      );
    }
    const fetchAll = (pick: (body: unknown) => Promise<unknown[]>, maxItems?: number) => {
      let count = 0;
      // A paged index stops at the page that crosses the bound: its count is a lower bound.
      const paged = resource.pagination.type !== 'none';
      return fetchPages({
        platform,
        pagination: resource.pagination,
        request: renderRequest(resource.request, job.params),
        fetch: deps.fetch,
        itemsOf: pick,
        signal: ctx.signal,
        deferAs: ctx.runKey,
        onPage: ({ items }) => {
          count += items.length;
          if (maxItems !== undefined && count > maxItems) {
            throw new NonRetryableError(
              'fanout_too_large',
              `the index has ${paged ? 'at least ' : ''}${count} entries; a fan-out may start at most ${maxItems} children (PSC_FANOUT_MAX_CHILDREN)`,
            );
          }
        },
      });
    };
    const startedAt = deps.clock.now();
    const base = {
      jobId: job.jobId,
      run: job.run,
      platformId: platform.id,
      resource: resource.name,
      params: job.params,
      attempt: ctx.attempt,
      startedAt,
    };
    const where = { jobId: job.jobId, platformId: platform.id, resource: resource.name };

    if (resource.fanOut) {
      const { entriesPath } = resource.fanOut;
      // The index may itself be paged: its entries are those of every page.
      const pages = await fetchAll(
        async (body) => asArray(await evaluate(entriesPath, body, 'fanOut.entriesPath')),
        deps.maxChildren,
      );
      const entries = pages.flatMap((p) => p.items);
      const bad = entries.findIndex((e) => !e || typeof e !== 'object' || Array.isArray(e));
      if (bad !== -1) {
        throw new NonRetryableError('bad_index', `index entry ${bad} is not an object`);
      }
      // Each entry becomes a child's params, kept in its collect.child message and documents.
      assertStorableEach(entries, 'index');
      await ctx.commit(async (trx, emit) => {
        const empty = entries.length === 0;
        const fresh = await deps.collections.start(trx, {
          ...base,
          status: empty ? 'succeeded' : 'running',
          documents: 0,
          childrenTotal: entries.length,
          finishedAt: empty ? startedAt : null,
        });
        // Another delivery of this run fanned out already: the runner finds it done and acks.
        if (!fresh) return { kind: 'continues' };
        await deps.collections.insertChildren(trx, job.jobId, job.run, entries.length);
        entries.forEach((entry, index) => {
          emit({
            exchange: EXCHANGES.jobs,
            routingKey: collectChild.type,
            priority: job.priority,
            envelope: createEnvelope(
              collectChild,
              {
                parentJobId: job.jobId,
                parentRun: job.run,
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
        if (!empty) return { kind: 'continues' };
        emitCompleted(
          emit,
          where,
          { status: 'succeeded', documents: 0, children: { total: 0, succeeded: 0, failed: 0 } },
          ctx.correlationId,
          startedAt,
        );
        return { kind: 'succeeded', stats: collectedStats(0) };
      });
      return;
    }

    const pages = await fetchAll((body) => itemsOf(body, resource.itemsPath));
    const docs = pages.flatMap(({ items, url }) =>
      items.map((data): NewDocument => ({
        jobId: job.jobId,
        childIndex: null,
        platformId: platform.id,
        resource: resource.name,
        params: job.params,
        url,
        fetchedAt: startedAt,
        workerId: deps.workerId,
        data,
      })),
    );
    await ctx.commit(async (trx, emit) => {
      const fresh = await deps.collections.start(trx, {
        ...base,
        status: 'succeeded',
        documents: docs.length,
        childrenTotal: null,
        finishedAt: deps.clock.now(),
      });
      if (!fresh) return { kind: 'continues' };
      await deps.collections.insertDocuments(trx, docs);
      emitCompleted(
        emit,
        where,
        { status: 'succeeded', documents: docs.length, children: null },
        ctx.correlationId,
        deps.clock.now(),
      );
      return { kind: 'succeeded', stats: collectedStats(docs.length) };
    });
  };
}
