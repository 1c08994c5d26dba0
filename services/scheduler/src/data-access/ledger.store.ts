import type { Knex } from 'knex';
import { ConflictError, NotFoundError, type Clock } from '@psc/core';
import type { Outbox } from '@psc/messaging';
import {
  DLQ_REPLAY_MAX,
  isFinalJobStatus,
  type DlqFilter,
  type Job,
  type JobStatus,
} from '@psc/contracts';
import type { ControlRepository } from './control.repository.ts';
import type { DeadLetterRepository } from './dead-letter.repository.ts';
import { StalePlatformError, type JobRepository } from './job.repository.ts';
import type { ScheduleRepository } from './schedule.repository.ts';
import { jobTraceRoots } from './job-trace-roots.ts';
import {
  DEAD,
  applyReports,
  cancellation,
  replayRun,
  type JobReport,
  type LedgerEntry,
} from '../domain/job-ledger.ts';
import {
  autoPausedMessage,
  cancelMessage,
  deadLetteredMessage,
  jobRunMessage,
} from '../domain/job-messages.ts';
import { mergeParams } from '../domain/replay-params.ts';

export interface LedgerChange {
  before: JobStatus;
  job: Job;
}

/**
 * The job ledger's transactions: a batch of worker reports applied at once, and replays out of
 * the dead-letter queue. Everything that follows from a transition — the job's dead letter, its
 * schedule's failure streak and auto-pause, the `job.run` of a replay — commits with it.
 */
export function createLedgerStore(deps: {
  knex: Knex;
  clock: Clock;
  outbox: Outbox;
  jobs: JobRepository;
  deadLetters: DeadLetterRepository;
  schedules: ScheduleRepository;
  control: ControlRepository;
}) {
  /** A scheduled run ended: its schedule's failure streak grows or resets (and may pause it). */
  async function countTowardSchedule(trx: Knex.Transaction, job: Job): Promise<void> {
    const failed = job.status !== 'succeeded' && job.status !== 'cancelled';
    const key = { platformId: job.platformId, resource: job.resource, taskType: job.taskType };
    const paused = await deps.schedules.recordOutcome(trx, key, failed);
    if (paused) {
      const now = deps.clock.now();
      await deps.control.audit(trx, now, {
        action: 'auto-pause',
        target: `platform:${job.platformId}`,
        reason: paused,
        detail: key,
      });
      await deps.outbox.write(trx, [autoPausedMessage(key, paused, now)]);
    }
  }

  return {
    /**
     * Inserts new jobs and their `job.run`s in one statement (atomic without a transaction),
     * unless one of their platforms is no longer at the revision given, active and not deleted:
     * then nothing is written and the answer is false. `traceParents`: see `RunNow`'s enqueue.
     */
    async enqueue(
      jobs: Job[],
      revisions: ReadonlyMap<string, number>,
      correlationId?: string,
      traceParents?: ReadonlyMap<string, string>,
    ): Promise<boolean> {
      const now = deps.clock.now();
      try {
        await deps.outbox.emit(
          jobs.map((job) => jobRunMessage(job, now, correlationId, traceParents?.get(job.id))),
          (part) => deps.jobs.insertWith(part, jobs, revisions),
        );
        return true;
      } catch (err) {
        if (err instanceof StalePlatformError) return false;
        throw err;
      }
    },

    /** Applies worker reports, all in one transaction; returns the jobs that changed. */
    async apply(reports: readonly JobReport[]): Promise<LedgerChange[]> {
      return deps.knex.transaction(async (trx) => {
        const entries = await deps.jobs.lockEntries(
          trx,
          reports.map((r) => r.payload.jobId),
        );
        const changes = [...applyReports(entries, reports).values()];
        if (changes.length === 0) return [];
        await deps.jobs.saveEntries(
          trx,
          changes.map((c) => c.entry),
        );
        const ended = changes.filter(
          (c) => isFinalJobStatus(c.entry.job.status) && !isFinalJobStatus(c.before),
        );
        const dead = ended.filter((c) => DEAD.includes(c.entry.job.status)).map((c) => c.entry.job);
        await deps.deadLetters.addJobs(trx, dead);
        const now = deps.clock.now();
        await deps.outbox.write(
          trx,
          dead.map((job) => deadLetteredMessage(job, now)),
        );
        for (const c of ended) {
          if (c.entry.job.trigger === 'schedule') await countTowardSchedule(trx, c.entry.job);
        }
        return changes.map((c) => ({ before: c.before, job: c.entry.job }));
      });
    },

    /**
     * Cancels a job: a queued one ends here; a running one is asked to stop (the worker reports
     * `cancelled`). Either way the workers hear of it (`job.cancel-requested`).
     */
    async cancel(id: string, reason: string): Promise<void> {
      const now = deps.clock.now();
      await deps.outbox.transaction(async (trx, emit) => {
        const job = await deps.jobs.lockById(trx, id);
        if (!job) throw new NotFoundError(`job ${id} not found`);
        const decision = cancellation(job);
        if (decision === 'ended')
          throw new ConflictError(`job ${id} is already ${job.status}`, { status: job.status });
        if (decision === 'now') await deps.jobs.cancelQueued(trx, now, reason, { ids: [id] });
        emit(cancelMessage(job, now, reason));
      });
    },

    /**
     * Takes matching jobs out of the dead-letter queue and runs each again as its next run,
     * queued in the same transaction; one job's `params` are merged into its own
     * (`mergeParams`). A letter whose job the retention has purged stays: there
     * is nothing left to run, and deleting it would lose what the operator came to see.
     */
    async replay(
      match: { jobId: string; params?: Job['params'] } | DlqFilter,
    ): Promise<{ replayed: string[]; more: boolean }> {
      return deps.outbox.transaction(async (trx, emit) => {
        const { letters, more } = await deps.deadLetters.lockJobLetters(trx, match, DLQ_REPLAY_MAX);
        if (letters.length === 0) return { replayed: [], more };
        const entries = await deps.jobs.lockEntries(
          trx,
          letters.map((l) => l.jobId),
        );
        const taken = letters.filter((l) => entries.has(l.jobId));
        if ('jobId' in match && taken.length === 0) {
          throw new NotFoundError(
            `job ${match.jobId} was purged from the ledger (PSC_JOB_RETENTION_DAYS): its dead letter cannot be replayed, only inspected or deleted`,
          );
        }
        await deps.deadLetters.removeLetters(
          trx,
          taken.map((l) => l.id),
        );
        const now = deps.clock.now();
        const replayed: LedgerEntry[] = [...entries.values()]
          .filter((e) => DEAD.includes(e.job.status))
          .map((e) =>
            replayRun(
              e,
              now,
              'jobId' in match && match.params
                ? { params: mergeParams(e.job.params, match.params) }
                : {},
            ),
          );
        await deps.jobs.saveEntries(trx, replayed);
        // The new run starts a tree of its own in the job's trace, linked to the replay request.
        const roots = jobTraceRoots(
          'replay',
          replayed.map((e) => e.job),
        );
        roots.endOnCommit(trx);
        for (const e of replayed)
          emit(jobRunMessage(e.job, now, undefined, roots.parentOf(e.job.id)));
        return { replayed: replayed.map((e) => e.job.id), more };
      });
    },
  };
}

export type LedgerStore = ReturnType<typeof createLedgerStore>;
