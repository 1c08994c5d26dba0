import type { Knex } from 'knex';
import type { CollectChild } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { JobOutcome, RunRef } from '@psc/job-runner';
import type { Emit, Outbox } from '@psc/messaging';
import type { CollectionRepository, Counter, NewDocument } from './collection.repository.ts';
import type { LogRepository } from './log.repository.ts';
import { collectionOutcome, emitCompleted } from '../domain/collect-task.ts';

export type ChildEnding =
  { kind: 'succeeded'; docs: NewDocument[] } | { kind: 'failed'; error: string };

/**
 * A fan-out child's end: the child's row, its documents (or its failure in the log), and its
 * count on the collection, at once. The collection row's lock serialises replicas, so exactly
 * one child sees the last count; that one finishes the collection and the parent job's run.
 */
export function createCollectionStore(deps: {
  outbox: Outbox;
  clock: Clock;
  collections: CollectionRepository;
  logs: LogRepository;
  workerId: string;
  /** Finishes the parent's run from this transaction (the job runner's). */
  finishJob: (
    trx: Knex.Transaction,
    emit: Emit,
    ref: RunRef,
    outcome: Exclude<JobOutcome, { kind: 'continues' }>,
    startedAt: Date,
  ) => Promise<void>;
}) {
  /** Ends the collection whose last child `counter` counted, in the caller's transaction. */
  async function finishWith(
    trx: Knex.Transaction,
    emit: Emit,
    child: CollectChild,
    counter: Counter,
    correlationId: string,
    now: Date,
  ): Promise<void> {
    const end = collectionOutcome(counter);
    if (!end) return;
    await deps.collections.finish(trx, child.parentJobId, end.status, now);
    emitCompleted(
      emit,
      { jobId: child.parentJobId, platformId: child.platformId, resource: child.resource },
      end.completed,
      correlationId,
      now,
    );
    const ref: RunRef = {
      job: { jobId: child.parentJobId, run: child.parentRun, platformId: child.platformId },
      attempt: counter.attempt,
      correlationId,
    };
    await deps.finishJob(trx, emit, ref, end.job, counter.startedAt);
    // A job's success is logged by whoever ends it (job.succeeded is not logged as an
    // event): here the fan-out's last child does.
    if (end.job.kind === 'succeeded') {
      await deps.logs.insert(
        {
          at: now.toISOString(),
          level: 'info',
          service: 'collector',
          platformId: child.platformId,
          jobId: child.parentJobId,
          message: 'job succeeded',
          fields: { run: child.parentRun, stats: end.job.stats },
          traceId: null,
        },
        undefined,
        trx,
      );
    }
  }

  /**
   * Ends the child's collection if every child has ended and it is still running: after the
   * last child's own statement, and when a child comes back already ended (its worker died
   * between that statement and this), so the last count is never stranded. The lock on the
   * collection's row makes it happen once.
   */
  async function finishIfDone(child: CollectChild, correlationId: string): Promise<void> {
    await deps.outbox.transaction(async (trx, emit) => {
      const counter = await deps.collections.lockRunning(trx, child.parentJobId, child.parentRun);
      if (counter) await finishWith(trx, emit, child, counter, correlationId, deps.clock.now());
    });
  }

  return {
    finishIfDone,
    async endChild(child: CollectChild, ending: ChildEnding, correlationId: string): Promise<void> {
      if (ending.kind === 'succeeded') {
        // Most children: one statement, no transaction (see SUCCEED_CHILD).
        const counter = await deps.collections.succeedChild(
          {
            parentJobId: child.parentJobId,
            run: child.parentRun,
            index: child.index,
            workerId: deps.workerId,
            at: deps.clock.now(),
          },
          ending.docs,
        );
        if (counter && collectionOutcome(counter)) await finishIfDone(child, correlationId);
        return;
      }
      await deps.outbox.transaction(async (trx, emit) => {
        const now = deps.clock.now();
        const counter = await deps.collections.endChild(trx, {
          parentJobId: child.parentJobId,
          run: child.parentRun,
          index: child.index,
          outcome: 'failed',
          error: ending.error,
          documents: 0,
          at: now,
          workerId: deps.workerId,
        });
        if (!counter) return; // ended by an earlier delivery, or its run was replayed since
        await deps.logs.insert(
          {
            at: now.toISOString(),
            level: 'warn',
            service: 'collector',
            platformId: child.platformId,
            jobId: child.parentJobId,
            message: `child ${child.index} failed: ${ending.error}`,
            fields: { childIndex: child.index },
            traceId: null,
          },
          undefined,
          trx,
        );
        await finishWith(trx, emit, child, counter, correlationId, now);
      });
    },
  };
}

export type CollectionStore = ReturnType<typeof createCollectionStore>;
