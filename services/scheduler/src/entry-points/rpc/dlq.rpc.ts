import { deadLetterCursor, dlqDelete, dlqGet, dlqList, dlqReplay } from '@psc/contracts';
import { ConflictError, NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { DeadLetterRepository } from '../../data-access/dead-letter.repository.ts';
import type { JobRepository } from '../../data-access/job.repository.ts';
import type { LedgerStore } from '../../data-access/ledger.store.ts';
import { deadLetterDetail } from '../../domain/dead-letter-detail.ts';

/** The dead-letter queue: every task type's dead and failed jobs, and poison messages. */
export function dlqRpcHandlers(deps: {
  deadLetters: DeadLetterRepository;
  jobs: Pick<JobRepository, 'findById'>;
  ledger: LedgerStore;
  /** Refuses replay params that are not values, too big once merged, or lack what the job's resource declares (422). */
  checkReplayParams: (jobId: string, params: Record<string, unknown>) => Promise<void>;
}): RpcHandler[] {
  return [
    rpcHandler(dlqList, async ({ cursor, limit, ...filter }) => {
      const rows = await deps.deadLetters.list(filter, deadLetterCursor.decode(cursor), limit + 1);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > limit && last
            ? deadLetterCursor.encode({ deadAt: last.deadAt, id: last.id })
            : null,
      };
    }),
    rpcHandler(dlqGet, async ({ jobId }) => {
      const found = await deps.deadLetters.get(jobId);
      if (!found) throw new NotFoundError(`${jobId} is not in the dead-letter queue`);
      const { letter, stored } = found;
      const job = letter.jobId && !stored ? await deps.jobs.findById(letter.jobId) : undefined;
      return deadLetterDetail(letter, stored, job);
    }),
    rpcHandler(dlqReplay, async (match) => {
      if ('jobId' in match && match.params) await deps.checkReplayParams(match.jobId, match.params);
      const answer = await deps.ledger.replay(match);
      if ('jobId' in match && answer.replayed.length === 0) {
        // Listed but not replayable (a message that names no job run): not a 404 for a letter
        // GET /dlq/{jobId} shows.
        const found = await deps.deadLetters.get(match.jobId);
        if (found && !found.letter.replayable) {
          throw new ConflictError(
            `${match.jobId} names no job run to replay (a message outside its contract); read it, then forget it with DELETE`,
          );
        }
        throw new NotFoundError(`job ${match.jobId} is not in the dead-letter queue`);
      }
      return answer;
    }),
    rpcHandler(dlqDelete, async ({ jobId }) => {
      const deleted = await deps.deadLetters.delete(jobId);
      if (deleted === 0) throw new NotFoundError(`${jobId} is not in the dead-letter queue`);
      return { deleted };
    }),
  ];
}
