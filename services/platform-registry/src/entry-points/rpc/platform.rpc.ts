import {
  platformCreate,
  platformDelete,
  platformGet,
  platformGetWithSecrets,
  platformList,
  platformPatch,
  platformReplace,
  platformTest,
  type RpcRequest,
  type RpcResponse,
} from '@psc/contracts';
import { createCoalescer } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { WorkerSeal } from '@psc/platform-http';
import type { Logger } from '@psc/telemetry';
import type { PlatformService } from '../../domain/platform.service.ts';

export function platformRpcHandlers(
  service: PlatformService,
  logger: Logger,
  workerSeal: Pick<WorkerSeal, 'seal'>,
): RpcHandler[] {
  // Lists asked together (consoles and dashboards polling the same page) share one query: under
  // load, a query per list cost the registry more in system calls than building the answer.
  // A list waits at most for the batch ahead of it and its query starts after it was asked, so
  // it still sees every change committed before; different pages of one batch each get a query.
  const list = createCoalescer<RpcRequest<typeof platformList>, RpcResponse<typeof platformList>>({
    send: (queries) => {
      const byQuery = new Map<string, ReturnType<PlatformService['list']>>();
      return Promise.all(
        queries.map((query) => {
          const key = JSON.stringify(query);
          let answer = byQuery.get(key);
          if (!answer) {
            answer = service.list(query);
            byQuery.set(key, answer);
          }
          return answer;
        }),
      );
    },
    maxBatch: 100,
    maxInFlight: 2,
  });
  return [
    rpcHandler(platformCreate, (input, ctx) => service.create(input, ctx.correlationId)),
    rpcHandler(platformGet, ({ id }) => service.get(id)),
    // Any broker client may ask; only the workers' key opens the credential in the answer.
    rpcHandler(platformGetWithSecrets, async ({ id }) =>
      workerSeal.seal(await service.getWithSecrets(id)),
    ),
    rpcHandler(platformList, list),
    rpcHandler(platformReplace, (request, ctx) => service.replace(request, ctx.correlationId)),
    rpcHandler(platformPatch, (request, ctx) => service.patch(request, ctx.correlationId)),
    rpcHandler(platformDelete, (request, ctx) => service.remove(request, ctx.correlationId)),
    rpcHandler(platformTest, async (request) => {
      const result = await service.test(request);
      // An operator is told in the reply; on-call sees it in GET /api/v1/logs too.
      if (!result.ok) {
        logger.warn(
          {
            platformId: request.id,
            resource: result.resource,
            status: result.status,
            problem: result.problem,
          },
          'platform connection test failed',
        );
      }
      return result;
    }),
  ];
}
