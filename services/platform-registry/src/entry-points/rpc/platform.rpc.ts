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
import { masked, type PlatformService } from '../../domain/platform.service.ts';

export function platformRpcHandlers(service: PlatformService): RpcHandler[] {
  return [
    rpcHandler(platformCreate, (input, ctx) => service.create(input, ctx.correlationId)),
    rpcHandler(platformGet, async ({ id }) => masked(await service.getWithSecrets(id))),
    // Workers only: the gateway never calls it, and nothing logs its answer.
    rpcHandler(platformGetWithSecrets, ({ id }) => service.getWithSecrets(id)),
    rpcHandler(platformList, (query) => service.list(query)),
    rpcHandler(platformReplace, (request, ctx) => service.replace(request, ctx.correlationId)),
    rpcHandler(platformPatch, (request, ctx) => service.patch(request, ctx.correlationId)),
    rpcHandler(platformDelete, (request, ctx) => service.remove(request, ctx.correlationId)),
    rpcHandler(platformTest, (request) => service.test(request)),
  ];
}
