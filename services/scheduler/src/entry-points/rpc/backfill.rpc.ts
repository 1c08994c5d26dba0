import { backfillCancel, backfillCreate, backfillGet, backfillList } from '@psc/contracts';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { Backfills } from '../../domain/backfills.ts';

/** Backfills: create, follow, list, cancel. */
export function backfillRpcHandlers(deps: { backfills: Backfills }): RpcHandler[] {
  return [
    rpcHandler(backfillCreate, (request) => deps.backfills.create(request)),
    rpcHandler(backfillGet, ({ id }) => deps.backfills.get(id)),
    rpcHandler(backfillList, (request) => deps.backfills.list(request)),
    rpcHandler(backfillCancel, ({ id, reason }) => deps.backfills.cancel(id, reason)),
  ];
}
