import { randomUUID } from 'node:crypto';
import {
  EXCHANGES,
  breakerList,
  breakerReset,
  dlqDelete,
  dlqList,
  dlqReplay,
  REPLAY_RUN_PREFIX,
  jobRequeued,
  jobRun,
  recordsExport,
  recordsList,
  validationGet,
  validationList,
} from '@psc/contracts';
import { NotFoundError, type Clock } from '@psc/core';
import { createEnvelope, rpcHandler, type Outbox, type RpcHandler } from '@psc/messaging';
import type { BreakerRegistry } from '../../data-access/breaker.registry.ts';
import {
  toDeadLetter,
  type DeadLetterRepository,
} from '../../data-access/dead-letter.repository.ts';
import type { RecordRepository } from '../../data-access/record.repository.ts';
import { renderExportPage } from '../../domain/export-page.ts';
import type { ValidationRepository } from '../../data-access/validation.repository.ts';

/** Opaque page cursors: the sort key of the last row served. */
const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
function decode<T>(cursor: string | undefined): T | undefined {
  if (!cursor) return undefined;
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString()) as T;
  } catch {
    return undefined;
  }
}

function paged<T>(rows: T[], limit: number, cursorOf: (last: T) => unknown) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encode(cursorOf(last)) : null };
}

export function recordRpcHandlers(deps: {
  records: RecordRepository;
  validations: ValidationRepository;
  deadLetters: DeadLetterRepository;
  breakers: BreakerRegistry;
  outbox: Outbox;
  clock: Clock;
}): RpcHandler[] {
  return [
    rpcHandler(recordsList, async (q) => {
      const rows = await deps.records.list({
        platformId: q.platformId,
        resource: q.resource,
        parentKey: q.parentKey,
        includeDeleted: q.includeDeleted,
        filters: q.filters,
        after: decode<{ parentKey: string; key: string }>(q.cursor),
        limit: q.limit + 1,
      });
      const page = paged(rows, q.limit, (r) => ({ parentKey: r.parentKey, key: r.key }));
      return {
        ...page,
        items: page.items.map(({ parentKey, ...r }) => (parentKey ? { ...r, parentKey } : r)),
      };
    }),
    rpcHandler(recordsExport, async (q) => {
      const after = decode<{ parentKey: string; key: string }>(q.cursor);
      const rows = await deps.records.exportRows({
        platformId: q.platformId,
        resource: q.resource,
        csvColumns: q.format === 'csv' ? q.columns : undefined,
        after,
        limit: q.limit + 1,
      });
      const page = renderExportPage(rows, {
        format: q.format,
        header: q.format === 'csv' && !after ? ['key', ...q.columns] : undefined,
        limit: q.limit,
      });
      return {
        text: page.text,
        count: page.count,
        nextCursor: page.last ? encode(page.last) : null,
      };
    }),
    rpcHandler(validationList, async (q) => {
      const rows = await deps.validations.list({
        platformId: q.platformId,
        resource: q.resource,
        before: decode<{ at: string; jobId: string }>(q.cursor),
        limit: q.limit + 1,
      });
      return paged(rows, q.limit, (r) => ({ at: r.at, jobId: r.jobId }));
    }),
    rpcHandler(validationGet, async ({ jobId }) => {
      const report = await deps.validations.get(jobId);
      if (!report) throw new NotFoundError(`no validation report for job ${jobId}`);
      return report;
    }),
    rpcHandler(dlqList, async ({ cursor, limit, ...filter }) => {
      const rows = await deps.deadLetters.list(
        filter,
        decode<{ deadAt: string; id: string }>(cursor),
        limit + 1,
      );
      return paged(rows.map(toDeadLetter), limit, (r) => ({ deadAt: r.deadAt, id: r.id }));
    }),
    rpcHandler(dlqReplay, async (match) => {
      const replayed = await deps.outbox.transaction(async (trx, emit) => {
        const rows = await deps.deadLetters.take(trx, match);
        const byJob = new Map(rows.map((r) => [r.job_id!, r]));
        const at = deps.clock.now();
        for (const row of byJob.values()) {
          const old = row.envelope!;
          // The new run's own correlation id, which the worker copies onto its job.* events: the
          // ledger tells them from the old run's stragglers by it. causationId links the two.
          const runId = `${REPLAY_RUN_PREFIX}${randomUUID()}`;
          const meta = { correlationId: runId, causationId: old.id, now: at };
          // Ahead of the run, so the ledger normally resets the job before the run reports.
          emit({
            exchange: EXCHANGES.events,
            routingKey: jobRequeued.type,
            envelope: createEnvelope(
              jobRequeued,
              { jobId: old.payload.jobId, at: at.toISOString(), trigger: 'replay', runId },
              meta,
            ),
          });
          // A fresh message without an attempt header: the replay starts at attempt 1.
          emit({
            exchange: EXCHANGES.jobs,
            routingKey: old.payload.taskType,
            envelope: createEnvelope(jobRun, { ...old.payload, trigger: 'replay' }, meta),
            priority: old.payload.priority,
          });
        }
        return [...byJob.keys()];
      });
      if ('jobId' in match && replayed.length === 0) {
        throw new NotFoundError(`job ${match.jobId} is not in the dead-letter queue`);
      }
      return { replayed };
    }),
    rpcHandler(dlqDelete, async ({ jobId }) => {
      const deleted = await deps.deadLetters.deleteJob(jobId);
      if (deleted === 0) throw new NotFoundError(`job ${jobId} is not in the dead-letter queue`);
      return { deleted };
    }),
    rpcHandler(breakerList, async ({ platformId }) => ({
      items: await deps.breakers.list(platformId),
    })),
    rpcHandler(breakerReset, async ({ platformId }) => {
      const at = await deps.breakers.requestReset(platformId);
      return { platformId, resetAt: at.toISOString() };
    }),
  ];
}
