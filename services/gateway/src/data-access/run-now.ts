import { jobRunNow, type RunNowRequest } from '@psc/contracts';
import { createCoalescer, fromErrorBody } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import { currentTraceId } from '@psc/telemetry';

/**
 * Run-now through the scheduler, coalesced: requests that arrive while two calls are on their
 * way go together in the next call, which the scheduler enqueues in one transaction. Each
 * request still gets its own answer or error, and its jobs record its own trace.
 */
export function createRunNow(rpc: RpcClient<'gateway'>) {
  const send = createCoalescer({
    send: async (requests: RunNowRequest[]) => (await rpc.call(jobRunNow, { requests })).results,
    maxBatch: 200,
    maxInFlight: 2,
  });
  return async (request: Omit<RunNowRequest, 'traceId'>) => {
    const result = await send({ ...request, traceId: currentTraceId() });
    if (!result.ok) throw fromErrorBody(result.error);
    return { jobs: result.jobs };
  };
}
