import { platformCreate, platformGet, platformList } from '@psc/contracts';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { PlatformService } from '../../domain/platform.service.ts';

export function platformRpcHandlers(service: PlatformService): RpcHandler[] {
  return [
    rpcHandler(platformCreate, (input, ctx) => service.create(input, ctx.correlationId)),
    rpcHandler(platformGet, ({ id }) => service.get(id)),
    rpcHandler(platformList, (query) => service.list(query)),
  ];
}
