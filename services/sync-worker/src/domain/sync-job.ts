import {
  jobFailed,
  jobProgressed,
  jobStarted,
  jobSucceeded,
  recordsChanged,
  validationDriftDetected,
  type JobRun,
  type JobStats,
  type MessageDefinition,
  type PayloadOf,
  type PlatformWithSecrets as Platform,
  type ResourceDefinition,
} from '@psc/contracts';
import { AppError, NonRetryableError, type Clock } from '@psc/core';
import {
  emitEvent as emitTo,
  jobFailure,
  type Emit,
  type Outbox,
  type OutboxMessage,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { CancellationRepository } from '../data-access/cancellation.repository.ts';
import type { JobRunRepository } from '../data-access/job-run.repository.ts';
import type {
  MappedRecord,
  RecordChange,
  RecordRepository,
} from '../data-access/record.repository.ts';
import type { ValidationRepository } from '../data-access/validation.repository.ts';
import { compareRecords } from './drift.ts';
import { forEachPage, type FetchPage } from './fetch-pages.ts';
import { asText } from '@psc/platform-http';

export interface JobContext {
  attempt: number;
  correlationId: string;
}

export interface SyncJobDeps {
  platforms: { get(id: string): Promise<Platform> };
  fetchPage: FetchPage;
  records: RecordRepository;
  runs: JobRunRepository;
  validations: ValidationRepository;
  cancellations: CancellationRepository;
  outbox: Outbox;
  clock: Clock;
  workerId: string;
  /** Hard limit per job, below RabbitMQ's consumer timeout. */
  jobTimeoutMs: number;
  /** Asks the scheduler for a sync (auto-heal after drift). */
  requestSync: (platformId: string, resource: string) => Promise<void>;
  logger: Logger;
}

/** The scheduler cancelled the job: acked with `job.failed` outcome `cancelled`, no retry. */
class CancelledError extends NonRetryableError {
  override name = 'CancelledError';
  constructor() {
    super('cancelled', 'job was cancelled');
  }
}

const CHANGES_PER_EVENT = 1_000;
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

export function createSyncJob(deps: SyncJobDeps) {
  const emitEvent = <M extends MessageDefinition>(
    emit: Emit,
    def: M,
    payload: PayloadOf<M>,
    ctx: JobContext,
  ) => emitTo(emit, def, payload, { correlationId: ctx.correlationId, now: deps.clock.now() });

  /**
   * An event with no state change of its own: one autocommitted outbox insert. `started` and
   * `progressed` skip the WAL flush wait (one disk flush less per job): the job's outcome is
   * committed durably after them, which flushes them too (see Outbox.emit).
   */
  const emitAlone = async <M extends MessageDefinition>(
    def: M,
    payload: PayloadOf<M>,
    ctx: JobContext,
  ): Promise<void> => {
    const messages: OutboxMessage[] = [];
    emitEvent((m) => messages.push(m), def, payload, ctx);
    const notice = def.type === jobStarted.type || def.type === jobProgressed.type;
    await deps.outbox.emit(messages, { waitForFlush: !notice });
  };

  const emitChanges = (
    emit: Emit,
    job: JobRun,
    resource: string,
    changes: RecordChange[],
    ctx: JobContext,
  ) => {
    for (let i = 0; i < changes.length; i += CHANGES_PER_EVENT) {
      emitEvent(
        emit,
        recordsChanged,
        {
          jobId: job.jobId,
          platformId: job.platformId,
          resource,
          changes: changes.slice(i, i + CHANGES_PER_EVENT),
        },
        ctx,
      );
    }
  };

  /**
   * Runs before each page: cancelled jobs stop, jobs past their hard timeout give up, and the
   * pages done so far are reported. The first page skips the cancellation check (run() made it
   * just before). Progress is reported when another page follows, so a page is reported as soon
   * as it is stored, except the last one, which `job.succeeded`'s stats report instead: a
   * one-page job costs no progress event (issue 7's profile).
   */
  const guard = (job: JobRun, signal: AbortSignal, ctx: JobContext) => {
    let pending: { pages: number; records: number } | undefined;
    let first = true;
    return {
      done: (pages: number, records: number) => {
        pending = { pages, records };
      },
      beforePage: async () => {
        if (signal.aborted) throw timeoutError(deps.jobTimeoutMs);
        if (!first && (await deps.cancellations.isCancelled(job.jobId))) {
          throw new CancelledError();
        }
        first = false;
        if (pending) await progress(job, pending.pages, pending.records, ctx);
        pending = undefined;
      },
    };
  };

  const progress = async (job: JobRun, pages: number, records: number, ctx: JobContext) => {
    await emitAlone(
      jobProgressed,
      {
        jobId: job.jobId,
        attempt: ctx.attempt,
        at: deps.clock.now().toISOString(),
        progress: { pages, records },
      },
      ctx,
    );
  };

  async function sync(
    job: JobRun,
    platform: Platform,
    resource: ResourceDefinition,
    signal: AbortSignal,
    ctx: JobContext,
  ): Promise<void> {
    const stats: JobStats = { ...emptyCounts(), deleted: 0 };
    const childStats = new Map(
      resource.children.map((c) => [c.name, { ...emptyCounts(), deleted: 0 }]),
    );
    const stored = resource.cursor
      ? await deps.records.getCursor(platform.id, resource.name)
      : undefined;
    const full = job.params.full === true || !resource.cursor || stored === undefined;
    const extraQuery =
      resource.cursor && !full && stored !== undefined ? { [resource.cursor.param]: stored } : {};
    let highWater = stored;
    const seen: { parentKey: string; key: string }[] = [];
    const seenChildren = new Map<string, { parentKey: string; key: string }[]>(
      resource.children.map((c) => [c.name, []]),
    );

    // One transaction per job: a crash before commit leaves nothing behind, so the redelivered
    // job starts clean and its stats stay right; a crash after commit is caught by `job_runs`.
    await deps.outbox.transaction(async (trx, emit) => {
      const store = async (name: string, records: MappedRecord[], counts: typeof stats) => {
        const result = await deps.records.upsert(trx, platform.id, name, records);
        counts.fetched += records.length;
        counts.inserted += result.inserted;
        counts.updated += result.updated;
        counts.unchanged += result.unchanged;
        emitChanges(emit, job, name, result.changes, ctx);
      };
      let total = 0;
      const pages = guard(job, signal, ctx);
      await forEachPage({
        platform,
        resource,
        fetchPage: deps.fetchPage,
        extraQuery,
        signal,
        beforePage: pages.beforePage,
        onPage: async (page, pageNumber) => {
          await store(resource.name, page.records, stats);
          stats.fetched += page.itemCount - page.records.length; // duplicates were still fetched
          for (const r of page.records) {
            seen.push({ parentKey: '', key: r.key });
            if (resource.cursor) highWater = later(highWater, r.data[resource.cursor.field]);
          }
          for (const [name, records] of page.children) {
            await store(`${resource.name}.${name}`, records, childStats.get(name)!);
            for (const r of records)
              seenChildren.get(name)!.push({ parentKey: r.parentKey ?? '', key: r.key });
          }
          total += page.itemCount;
          pages.done(pageNumber, total);
        },
      });
      if (full && resource.deleteMissing) {
        const gone = await deps.records.softDeleteMissing(trx, platform.id, resource.name, seen);
        stats.deleted = gone.length;
        emitChanges(emit, job, resource.name, gone, ctx);
        for (const [name, keys] of seenChildren) {
          const childName = `${resource.name}.${name}`;
          const goneChildren = await deps.records.softDeleteMissing(
            trx,
            platform.id,
            childName,
            keys,
          );
          childStats.get(name)!.deleted = goneChildren.length;
          emitChanges(emit, job, childName, goneChildren, ctx);
        }
      }
      if (resource.cursor && highWater !== undefined && highWater !== stored) {
        await deps.records.setCursor(trx, platform.id, resource.name, highWater);
      }
      if (childStats.size > 0) stats.children = Object.fromEntries(childStats);
      const at = deps.clock.now();
      await deps.runs.insert(trx, { jobId: job.jobId, attempt: ctx.attempt, stats, at });
      emitEvent(
        emit,
        jobSucceeded,
        { jobId: job.jobId, attempt: ctx.attempt, at: at.toISOString(), stats },
        ctx,
      );
    });
  }

  /** Fetches and maps like sync, writes no records, stores a drift report. */
  async function validate(
    job: JobRun,
    platform: Platform,
    resource: ResourceDefinition,
    signal: AbortSignal,
    ctx: JobContext,
  ): Promise<void> {
    const fetched: MappedRecord[] = [];
    let items = 0;
    const pages = guard(job, signal, ctx);
    await forEachPage({
      platform,
      resource: { ...resource, children: [] },
      fetchPage: deps.fetchPage,
      signal,
      beforePage: pages.beforePage,
      onPage: (page, pageNumber) => {
        fetched.push(...page.records);
        items += page.itemCount;
        pages.done(pageNumber, items);
        return Promise.resolve();
      },
    });
    const stored = await deps.records.snapshot(platform.id, resource.name);
    const diff = compareRecords(fetched, stored);
    const counts = { fetched: items, ...diff.counts };
    const drift = counts.missing + counts.extra + counts.changed > 0;
    const at = deps.clock.now();
    const stats: JobStats = {
      fetched: items,
      inserted: 0,
      updated: 0,
      unchanged: fetched.length - diff.counts.missing - diff.counts.changed,
    };
    await deps.outbox.transaction(async (trx, emit) => {
      await deps.validations.insert(trx, {
        jobId: job.jobId,
        platformId: platform.id,
        resource: resource.name,
        at: at.toISOString(),
        drift,
        counts,
        missing: diff.missing,
        extra: diff.extra,
        changed: diff.changed,
      });
      await deps.runs.insert(trx, { jobId: job.jobId, attempt: ctx.attempt, stats, at });
      if (drift) {
        emitEvent(
          emit,
          validationDriftDetected,
          {
            jobId: job.jobId,
            platformId: platform.id,
            resource: resource.name,
            counts,
            autoHeal: resource.autoHeal,
          },
          ctx,
        );
      }
      emitEvent(
        emit,
        jobSucceeded,
        { jobId: job.jobId, attempt: ctx.attempt, at: at.toISOString(), stats },
        ctx,
      );
    });
    if (drift && resource.autoHeal) {
      // After the commit: a lost heal request is logged; the next validation finds the drift again.
      await deps
        .requestSync(platform.id, resource.name)
        .catch((err: unknown) =>
          deps.logger.warn(
            { err: err instanceof Error ? err.message : String(err), jobId: job.jobId },
            'auto-heal sync could not be requested',
          ),
        );
    }
  }

  async function emitCancelled(job: JobRun, ctx: JobContext): Promise<void> {
    await emitAlone(
      jobFailed,
      {
        jobId: job.jobId,
        attempt: ctx.attempt,
        at: deps.clock.now().toISOString(),
        error: { message: 'job was cancelled', class: 'cancelled' },
        outcome: 'cancelled',
      },
      ctx,
    );
  }

  return {
    async run(job: JobRun, ctx: JobContext): Promise<void> {
      // One statement for both checks: each round trip counts per job (issue 7).
      const { finished, cancelled } = await deps.runs.state(job.jobId);
      if (finished) return; // a redelivery of a job already done
      if (cancelled) return emitCancelled(job, ctx);
      await emitAlone(
        jobStarted,
        {
          jobId: job.jobId,
          attempt: ctx.attempt,
          at: deps.clock.now().toISOString(),
          workerId: deps.workerId,
        },
        ctx,
      );
      if (job.taskType !== 'sync' && job.taskType !== 'validate') {
        throw new NonRetryableError(
          'unsupported_task',
          `${job.taskType} is not a sync-worker task`,
        );
      }
      const platform = await deps.platforms.get(job.platformId);
      const resource = platform.resources.find((r) => r.name === job.resource);
      if (!resource) {
        throw new NonRetryableError('unknown_resource', `platform has no resource ${job.resource}`);
      }
      const signal = AbortSignal.timeout(deps.jobTimeoutMs);
      try {
        if (job.taskType === 'sync') await sync(job, platform, resource, signal, ctx);
        else await validate(job, platform, resource, signal, ctx);
      } catch (err) {
        if (err instanceof CancelledError) return emitCancelled(job, ctx);
        if (signal.aborted && !(err instanceof AppError)) throw timeoutError(deps.jobTimeoutMs);
        throw err;
      }
    },

    /** Records why an attempt failed and what happens next. */
    async recordFailure(
      job: JobRun,
      err: unknown,
      outcome: 'retrying' | 'dead',
      ctx: JobContext,
    ): Promise<void> {
      await emitAlone(
        jobFailed,
        {
          jobId: job.jobId,
          attempt: ctx.attempt,
          at: deps.clock.now().toISOString(),
          ...jobFailure(err, outcome),
        },
        ctx,
      );
    },
  };
}

function timeoutError(ms: number): AppError {
  return new AppError('job_timeout', 504, `job did not finish within ${ms} ms`, {
    retryable: true,
  });
}

export type SyncJob = ReturnType<typeof createSyncJob>;
