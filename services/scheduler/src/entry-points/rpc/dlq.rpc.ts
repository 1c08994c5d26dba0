import { deadLetterCursor, dlqDelete, dlqList, dlqReplay } from '@psc/contracts';
import { NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { DeadLetterRepository } from '../../data-access/dead-letter.repository.ts';
import type { LedgerStore } from '../../data-access/ledger.store.ts';

/** The dead-letter queue: every task type's dead and failed jobs, and poison messages. */
export function dlqRpcHandlers(deps: {
  deadLetters: DeadLetterRepository;
  ledger: LedgerStore;
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
    rpcHandler(dlqReplay, async (match) => {
      const replayed = await deps.ledger.replay(match);
      if ('jobId' in match && replayed.length === 0) {
        throw new NotFoundError(`job ${match.jobId} is not in the dead-letter queue`);
      }
      return { replayed };
    }),
    rpcHandler(dlqDelete, async ({ jobId }) => {
      const deleted = await deps.deadLetters.delete(jobId);
      if (deleted === 0) throw new NotFoundError(`${jobId} is not in the dead-letter queue`);
      return { deleted };
    }),
  ];
}
