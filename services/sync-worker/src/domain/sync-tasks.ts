import {
  EXCHANGES,
  recordsChanged,
  validationDriftDetected,
  type JobRun,
  type JobStats,
  type MessageDefinition,
  type PayloadOf,
  type SealedPlatform as Platform,
  type ResourceDefinition,
} from '@psc/contracts';
import { NonRetryableError, type Clock } from '@psc/core';
import type { JobHandler, RunContext } from '@psc/job-runner';
import { createEnvelope, type Emit } from '@psc/messaging';
import { asText } from '@psc/platform-http';
import type { Logger } from '@psc/telemetry';
import {
  ONE_STATEMENT_RECORDS,
  type MappedRecord,
  type RecordChange,
  type RecordRepository,
} from '../data-access/record.repository.ts';
import type { ValidationRepository } from '../data-access/validation.repository.ts';
import { compareRecords } from './drift.ts';
import { forEachPage, openPages, type FetchPage, type MappedPage } from './fetch-pages.ts';

export interface SyncTaskDeps {
  platforms: { get(id: string): Promise<Platform> };
  fetchPage: FetchPage;
  records: RecordRepository;
  validations: ValidationRepository;
  clock: Clock;
  /** Asks the scheduler for a sync (auto-heal after drift). */
  requestSync: (platformId: string, resource: string) => Promise<void>;
  logger: Logger;
}

/** A `records.changed` event holds at most this many changes, and at most this many key bytes. */
const CHANGES_PER_EVENT = 1_000;
const KEY_BYTES_PER_EVENT = 256 * 1024;
const emptyCounts = () => ({ fetched: 0, inserted: 0, updated: 0, unchanged: 0 });

/** Larger of two cursor values: numbers numerically, anything else as text. */
function later(a: string | undefined, b: unknown): string | undefined {
  if (b === undefined || b === null) return a;
  const value = asText(b);
  if (a === undefined) return value;
  const [x, y] = [Number(a), Number(value)];
  if (Number.isFinite(x) && Number.isFinite(y) && a.trim() !== '' && value.trim() !== '') {
    return y > x ? value : a;
  }
  return value > a ? value : a;
}

/**
 * The longest the sync's transaction waits between two statements: one page request, its
 * timeout, and its turn under the platform's rate limit (the other request slots' turns may be
 * ahead of it, and it takes the earliest turn booked for a deferred job, if one is before its own).
 */
function pageWaitMs(platform: Platform): number {
  const rate = platform.rateLimit;
  const turn = rate ? ((rate.concurrency + 1) * 1_000) / rate.requestsPerSecond : 0;
  return platform.timeoutMs + turn + 10_000;
}

/**
 * Reports progress before every page but the first (run-now jobs of one page report none): the
 * pages stored so far, and a stop if the run was cancelled meanwhile.
 */
function pageGuard(ctx: RunContext) {
  let done: { pages: number; records: number } | undefined;
  return {
    stored: (pages: number, records: number) => {
      done = { pages, records };
    },
    beforePage: async () => {
      if (done) await ctx.progress(done);
    },
    /** Where the run ended, for its outcome, when it reported progress (more than one page). */
    final: () => (done && done.pages > 1 ? done : undefined),
  };
}

/**
 * Whether a sync whose only page is `page` can be stored by one statement (pageEffects): its
 * records only, no cursor to move, no children, no change events (they list the keys written).
 */
function fitsOneStatement(resource: ResourceDefinition, page: MappedPage): boolean {
  return (
    !resource.cursor &&
    resource.children.length === 0 &&
    !resource.changeEvents &&
    page.records.length <= ONE_STATEMENT_RECORDS
  );
}

/** The sync-worker's tasks: `sync` stores what the platform has, `validate` reports drift. */
export function createSyncTasks(deps: SyncTaskDeps): Record<'sync' | 'validate', JobHandler> {
  const event = <M extends MessageDefinition>(
    emit: Emit,
    definition: M,
    payload: PayloadOf<M>,
    ctx: RunContext,
  ) =>
    emit({
      exchange: EXCHANGES.events,
      routingKey: definition.type,
      envelope: createEnvelope(definition, payload, {
        correlationId: ctx.job.jobId,
        now: deps.clock.now(),
      }),
    });

  /** Change events in chunks that always fit a message, however long the platform's keys. */
  const emitChanges = (emit: Emit, ctx: RunContext, resource: string, changes: RecordChange[]) => {
    let chunk: RecordChange[] = [];
    let bytes = 0;
    const flush = () => {
      if (chunk.length === 0) return;
      event(
        emit,
        recordsChanged,
        { jobId: ctx.job.jobId, platformId: ctx.job.platformId, resource, changes: chunk },
        ctx,
      );
      chunk = [];
      bytes = 0;
    };
    for (const change of changes) {
      const size = Buffer.byteLength(change.key) + Buffer.byteLength(change.parentKey ?? '');
      if (
        chunk.length >= CHANGES_PER_EVENT ||
        (chunk.length > 0 && bytes + size > KEY_BYTES_PER_EVENT)
      )
        flush();
      chunk.push(change);
      bytes += size;
    }
    flush();
  };

  async function target(
    job: JobRun,
  ): Promise<{ platform: Platform; resource: ResourceDefinition }> {
    const platform = await deps.platforms.get(job.platformId);
    const resource = platform.resources.find((r) => r.name === job.resource);
    if (!resource) {
      throw new NonRetryableError('unknown_resource', `platform has no resource ${job.resource}`);
    }
    return { platform, resource };
  }

  /**
   * Every page of a sync is stored in one transaction with the run's outcome (one statement when
   * there is one page): a worker that dies mid-sync leaves nothing behind, so the redelivered job
   * starts clean and its stats are right.
   */
  const sync: JobHandler = async (ctx) => {
    const { platform, resource } = await target(ctx.job);
    const stats: JobStats = { ...emptyCounts(), deleted: 0 };
    const childStats = new Map(
      resource.children.map((c) => [c.name, { ...emptyCounts(), deleted: 0 }]),
    );
    const stored = resource.cursor
      ? await deps.records.getCursor(platform.id, resource.name)
      : undefined;
    const full = ctx.job.params.full === true || !resource.cursor || stored === undefined;
    const extraQuery =
      resource.cursor && !full && stored !== undefined ? { [resource.cursor.param]: stored } : {};
    let highWater = stored;
    const seen: { parentKey: string; key: string }[] = [];
    const seenChildren = new Map<string, { parentKey: string; key: string }[]>(
      resource.children.map((c) => [c.name, []]),
    );
    const pages = openPages({
      platform,
      resource,
      fetchPage: deps.fetchPage,
      extraQuery,
      signal: ctx.signal,
      deferAs: ctx.runKey,
    });

    try {
      // Most jobs are one page: stored, with the run's record and outcome, by one statement.
      const first = await pages.first();
      if (first.last && fitsOneStatement(resource, first.page)) {
        await ctx.commitStatement(
          deps.records.pageEffects(platform.id, resource.name, first.page.records, {
            itemCount: first.page.itemCount,
            deleteMissing: resource.deleteMissing,
          }),
        );
        return;
      }
      await ctx.commit(
        async (trx, emit) => {
          // What the last page's upsert counted of each resource's live records: the missing-record
          // check below then needs no statement when nothing is missing.
          const liveAfter = new Map<string, number>();
          const store = async (
            name: string,
            records: MappedRecord[],
            counts: typeof stats,
            last: boolean,
          ) => {
            const result = await deps.records.upsert(trx, platform.id, name, records, {
              last: last && full && resource.deleteMissing,
            });
            if (result.liveAfter !== undefined) liveAfter.set(name, result.liveAfter);
            counts.fetched += records.length;
            counts.inserted += result.inserted;
            counts.updated += result.updated;
            counts.unchanged += result.unchanged;
            if (resource.changeEvents) emitChanges(emit, ctx, name, result.changes);
          };
          let total = 0;
          const guard = pageGuard(ctx);
          await pages.forEach({
            beforePage: guard.beforePage,
            onPage: async (page, pageNumber, last) => {
              await store(resource.name, page.records, stats, last);
              stats.fetched += page.itemCount - page.records.length; // duplicates were still fetched
              for (const r of page.records) {
                seen.push({ parentKey: '', key: r.key });
                if (resource.cursor) highWater = later(highWater, r.data[resource.cursor.field]);
              }
              for (const [name, records] of page.children) {
                await store(`${resource.name}.${name}`, records, childStats.get(name)!, last);
                for (const r of records)
                  seenChildren.get(name)!.push({ parentKey: r.parentKey ?? '', key: r.key });
              }
              total += page.itemCount;
              guard.stored(pageNumber, total);
            },
          });
          if (full && resource.deleteMissing) {
            const gone = await deps.records.softDeleteMissing(
              trx,
              platform.id,
              resource.name,
              seen,
              liveAfter.get(resource.name),
            );
            stats.deleted = gone.length;
            if (resource.changeEvents) emitChanges(emit, ctx, resource.name, gone);
            for (const [name, keys] of seenChildren) {
              const childName = `${resource.name}.${name}`;
              const goneChildren = await deps.records.softDeleteMissing(
                trx,
                platform.id,
                childName,
                keys,
                liveAfter.get(childName),
              );
              childStats.get(name)!.deleted = goneChildren.length;
              if (resource.changeEvents) emitChanges(emit, ctx, childName, goneChildren);
            }
          }
          if (resource.cursor && highWater !== undefined && highWater !== stored) {
            await deps.records.setCursor(trx, platform.id, resource.name, highWater);
          }
          if (childStats.size > 0) stats.children = Object.fromEntries(childStats);
          const progress = guard.final();
          return { kind: 'succeeded', stats, ...(progress && { progress }) };
        },
        { idleMs: pageWaitMs(platform) },
      );
    } finally {
      // When the commit failed before it wanted the first page, that request is not wanted.
      pages.close();
    }
  };

  /** Fetches and maps like sync, writes no records, stores a drift report. */
  const validate: JobHandler = async (ctx) => {
    const { platform, resource } = await target(ctx.job);
    const fetched: MappedRecord[] = [];
    let items = 0;
    const pages = pageGuard(ctx);
    await forEachPage({
      platform,
      resource: { ...resource, children: [] },
      fetchPage: deps.fetchPage,
      signal: ctx.signal,
      deferAs: ctx.runKey,
      beforePage: pages.beforePage,
      onPage: (page, pageNumber) => {
        fetched.push(...page.records);
        items += page.itemCount;
        pages.stored(pageNumber, items);
        return Promise.resolve();
      },
    });
    const existing = await deps.records.snapshot(platform.id, resource.name);
    const diff = compareRecords(fetched, existing);
    const counts = { fetched: items, ...diff.counts };
    const drift = counts.missing + counts.extra + counts.changed > 0;
    const stats: JobStats = {
      fetched: items,
      inserted: 0,
      updated: 0,
      unchanged: fetched.length - diff.counts.missing - diff.counts.changed,
    };
    await ctx.commit(async (trx, emit) => {
      await deps.validations.insert(trx, {
        jobId: ctx.job.jobId,
        platformId: platform.id,
        resource: resource.name,
        at: deps.clock.now().toISOString(),
        drift,
        counts,
        missing: diff.missing,
        extra: diff.extra,
        changed: diff.changed,
      });
      if (drift) {
        event(
          emit,
          validationDriftDetected,
          {
            jobId: ctx.job.jobId,
            platformId: platform.id,
            resource: resource.name,
            counts,
            autoHeal: resource.autoHeal,
          },
          ctx,
        );
      }
      return { kind: 'succeeded', stats };
    });
    if (drift && resource.autoHeal) {
      // After the commit: a lost heal request is logged; the next validation finds the drift again.
      await deps
        .requestSync(platform.id, resource.name)
        .catch((err: unknown) =>
          ctx.logger.warn(
            { err: err instanceof Error ? err.message : String(err), jobId: ctx.job.jobId },
            'auto-heal sync could not be requested',
          ),
        );
    }
  };

  return { sync, validate };
}
