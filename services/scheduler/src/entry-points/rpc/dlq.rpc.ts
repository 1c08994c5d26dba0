import { dlqDelete, dlqList, dlqReplay } from '@psc/contracts';
import { BadRequestError, NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { DeadLetterRepository } from '../../data-access/dead-letter.repository.ts';
import type { LedgerStore } from '../../data-access/ledger.store.ts';

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function decode(cursor: string | undefined): { deadAt: string; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    const { deadAt, id } = v as { deadAt?: unknown; id?: unknown };
    if (typeof deadAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(deadAt)))
      return { deadAt, id };
  } catch {
    // fall through
  }
  throw new BadRequestError('invalid cursor');
}

/** The dead-letter queue: every task type's dead and failed jobs, and poison messages. */
export function dlqRpcHandlers(deps: {
  deadLetters: DeadLetterRepository;
  ledger: LedgerStore;
}): RpcHandler[] {
  return [
    rpcHandler(dlqList, async ({ cursor, limit, ...filter }) => {
      const rows = await deps.deadLetters.list(filter, decode(cursor), limit + 1);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > limit && last ? encode({ deadAt: last.deadAt, id: last.id }) : null,
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
