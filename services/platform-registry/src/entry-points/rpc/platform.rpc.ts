import {
  platformCreate,
  platformDelete,
  platformGet,
  platformGetWithSecrets,
  platformList,
  platformPatch,
  platformReplace,
  platformTest,
} from '@psc/contracts';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { WorkerSeal } from '@psc/platform-http';
import type { Logger } from '@psc/telemetry';
import { masked, type PlatformService } from '../../domain/platform.service.ts';

export function platformRpcHandlers(
  service: PlatformService,
  logger: Logger,
  workerSeal: Pick<WorkerSeal, 'seal'>,
): RpcHandler[] {
  return [
    rpcHandler(platformCreate, (input, ctx) => service.create(input, ctx.correlationId)),
    rpcHandler(platformGet, async ({ id }) => masked(await service.getWithSecrets(id))),
    // Any broker client may ask; only the workers' key opens the credential in the answer.
    rpcHandler(platformGetWithSecrets, async ({ id }) =>
      workerSeal.seal(await service.getWithSecrets(id)),
    ),
    rpcHandler(platformList, (query) => service.list(query)),
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
