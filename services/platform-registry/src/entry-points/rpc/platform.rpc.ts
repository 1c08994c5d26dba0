import { platformCreate, platformGet, platformGetWithSecrets, platformList } from '@psc/contracts';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import { masked, type PlatformService } from '../../domain/platform.service.ts';

export function platformRpcHandlers(service: PlatformService): RpcHandler[] {
  return [
    rpcHandler(platformCreate, (input, ctx) => service.create(input, ctx.correlationId)),
    rpcHandler(platformGet, async ({ id }) => masked(await service.getWithSecrets(id))),
    rpcHandler(platformGetWithSecrets, ({ id }) => service.getWithSecrets(id)),
    rpcHandler(platformList, (query) => service.list(query)),
  ];
}
