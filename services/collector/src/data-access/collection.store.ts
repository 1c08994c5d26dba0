import type { Knex } from 'knex';
import type { CollectChild } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { JobOutcome, RunRef } from '@psc/job-runner';
import type { Emit, Outbox } from '@psc/messaging';
import type { CollectionRepository, NewDocument } from './collection.repository.ts';
import type { LogRepository } from './log.repository.ts';
import { collectionOutcome, emitCompleted } from '../domain/collect-task.ts';

export type ChildEnding =
  { kind: 'succeeded'; docs: NewDocument[] } | { kind: 'failed'; error: string };

/**
 * A fan-out child's end, in one transaction: the child's row, its documents (or its failure in
 * the log), and its count on the collection. The row locks serialise replicas, so exactly one
 * transaction sees the last count; that one finishes the collection and the parent job's run.
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
  return {
    async endChild(child: CollectChild, ending: ChildEnding, correlationId: string): Promise<void> {
      await deps.outbox.transaction(async (trx, emit) => {
        const now = deps.clock.now();
        const counter = await deps.collections.endChild(trx, {
          parentJobId: child.parentJobId,
          run: child.parentRun,
          index: child.index,
          outcome: ending.kind,
          ...(ending.kind === 'failed' ? { error: ending.error } : {}),
          documents: ending.kind === 'succeeded' ? ending.docs.length : 0,
          at: now,
          workerId: deps.workerId,
        });
        if (!counter) return; // ended by an earlier delivery, or its run was replayed since
        if (ending.kind === 'succeeded') await deps.collections.insertDocuments(trx, ending.docs);
        else {
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
        }
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
      });
    },
  };
}

export type CollectionStore = ReturnType<typeof createCollectionStore>;
