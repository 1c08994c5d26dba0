import {
  EXCHANGES,
  jobFailed,
  jobStarted,
  jobSucceeded,
  type JobRun,
  type JobStats,
  type MessageDefinition,
  type PayloadOf,
  type PlatformWithSecrets as Platform,
} from '@psc/contracts';
import { AppError, NonRetryableError, type Clock } from '@psc/core';
import { createEnvelope, type Emit, type Outbox } from '@psc/messaging';
import type { JobRunRepository } from '../data-access/job-run.repository.ts';
import type { RecordRepository } from '../data-access/record.repository.ts';
import { collapseDuplicates, extractItems, mapItem } from './mapping.ts';
import { createPager, type PageRequest } from './pages.ts';

export interface JobContext {
  attempt: number;
  correlationId: string;
}

export interface SyncJobDeps {
  platforms: { get(id: string): Promise<Platform> };
  fetchPage: (platform: Platform, request: PageRequest) => Promise<{ body: unknown }>;
  records: RecordRepository;
  runs: JobRunRepository;
  outbox: Outbox;
  clock: Clock;
  workerId: string;
}

export function errorClass(err: unknown): string {
  if (err instanceof AppError) return err.code;
  return 'internal';
}

export function createSyncJob(deps: SyncJobDeps) {
  const emitEvent = <M extends MessageDefinition>(
    emit: Emit,
    def: M,
    payload: PayloadOf<M>,
    ctx: JobContext,
  ) =>
    emit({
      exchange: EXCHANGES.events,
      routingKey: def.type,
      envelope: createEnvelope(def, payload, {
        correlationId: ctx.correlationId,
        now: deps.clock.now(),
      }),
    });

  async function sync(job: JobRun, ctx: JobContext): Promise<void> {
    const platform = await deps.platforms.get(job.platformId);
    const resource = platform.resources.find((r) => r.name === job.resource);
    if (!resource)
      throw new NonRetryableError('unknown_resource', `platform has no resource ${job.resource}`);
    const stats: JobStats = { fetched: 0, inserted: 0, updated: 0, unchanged: 0 };

    // One transaction per job: a crash before commit leaves nothing behind, so the redelivered
    // job starts clean and its stats stay right; a crash after commit is caught by `job_runs`.
    await deps.outbox.transaction(async (trx, emit) => {
      const pager = createPager(resource);
      let request: PageRequest | null = pager.first();
      while (request) {
        const { body } = await deps.fetchPage(platform, request);
        const items = await extractItems(body, resource);
        const mapped = collapseDuplicates(
          await Promise.all(items.map((item) => mapItem(item, resource))),
        );
        const counts = await deps.records.upsert(trx, platform.id, resource.name, mapped);
        stats.fetched += items.length;
        stats.inserted += counts.inserted;
        stats.updated += counts.updated;
        stats.unchanged += counts.unchanged;
        request = pager.next({ itemCount: items.length });
      }
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

  return {
    async run(job: JobRun, ctx: JobContext): Promise<void> {
      if (await deps.runs.isFinished(job.jobId)) return; // a redelivery of a job already done
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
          ctx,
        ),
      );
      if (job.taskType !== 'sync') {
        throw new NonRetryableError(
          'unsupported_task',
          `${job.taskType} is not supported by this worker yet`,
        );
      }
      await sync(job, ctx);
    },

    /** Records why an attempt failed and what happens next. */
    async recordFailure(
      job: JobRun,
      err: unknown,
      outcome: 'retrying' | 'dead',
      ctx: JobContext,
    ): Promise<void> {
      const retryable = err instanceof AppError ? err.retryable : true;
      const message = err instanceof AppError ? err.message : 'internal error';
      await deps.outbox.transaction((_trx, emit) =>
        emitEvent(
          emit,
          jobFailed,
          {
            jobId: job.jobId,
            attempt: ctx.attempt,
            at: deps.clock.now().toISOString(),
            error: { message, class: errorClass(err) },
            outcome: outcome === 'retrying' ? 'retrying' : retryable ? 'dead' : 'failed',
          },
          ctx,
        ),
      );
    },
  };
}

export type SyncJob = ReturnType<typeof createSyncJob>;
