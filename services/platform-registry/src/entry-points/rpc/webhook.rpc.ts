import {
  webhookCreate,
  webhookDeliveries,
  webhookDelete,
  webhookGet,
  webhookList,
  webhookSetEnabled,
  webhookTest,
} from '@psc/contracts';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { WebhookService } from '../../domain/webhook.service.ts';

export function webhookRpcHandlers(service: WebhookService): RpcHandler[] {
  return [
    rpcHandler(webhookCreate, (input) => service.create(input)),
    rpcHandler(webhookList, () => service.list()),
    rpcHandler(webhookGet, ({ id }) => service.get(id)),
    rpcHandler(webhookDelete, ({ id }) => service.remove(id)),
    rpcHandler(webhookSetEnabled, ({ id, enabled }) => service.setEnabled(id, enabled)),
    rpcHandler(webhookTest, ({ id }) => service.test(id)),
    rpcHandler(webhookDeliveries, (query) => service.deliveries(query)),
  ];
}
