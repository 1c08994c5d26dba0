import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import {
  WEBHOOK_DELIVERY_STATUSES,
  page,
  pageRequest,
  webhook,
  webhookCreate,
  webhookCreateRequest,
  webhookCreated,
  webhookDeliveries,
  webhookDelete,
  webhookDelivery,
  webhookGet,
  webhookList,
  webhookSetEnabled,
  webhookTest,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import type { AuditRepository } from '../../data-access/audit.repository.ts';
import { principalOf } from './auth.ts';
import { operation, relay, route } from './operation.ts';

const WEBHOOK_ID = '5b0c7a47-1f0e-4d8e-9a55-3f1f2a0c9e11';
const Webhook = webhook.meta({ id: 'Webhook' });
const WebhookDelivery = webhookDelivery.meta({ id: 'WebhookDelivery' });
const byId = z.object({ id: z.uuid().meta({ description: 'Webhook id', example: WEBHOOK_ID }) });
const tag = 'webhooks';

const SIGNING =
  'Each delivery is a POST of `{type, timestamp, data}` signed as the Standard Webhooks spec says: headers `webhook-id` (the same on every retry), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the base64-decoded part of the secret after `whsec_`). A 2xx answer is success; anything else, a timeout (`PSC_WEBHOOK_TIMEOUT_MS`) or a redirect (never followed) is retried with exponential backoff and full jitter up to `PSC_WEBHOOK_MAX_ATTEMPTS` times. After `PSC_WEBHOOK_DISABLE_AFTER` failed attempts in a row the subscription is disabled, with the reason in `disabledReason`.';

export const webhookOperations = {
  create: operation({
    method: 'post',
    path: '/webhooks',
    operationId: 'createWebhook',
    summary:
      'Subscribe a URL to events (job.dead, drift, breaker opened…); the secret is shown once',
    description: `The URL must pass the egress guard (no loopback, private or metadata address unless \`PSC_EGRESS_ALLOW\` names it): 422 \`egress_denied\` otherwise, now and at every send. Leave \`secret\` out to get a generated \`whsec_…\` in the answer, the only time psc shows it. ${SIGNING}`,
    tag,
    role: 'admin',
    body: webhookCreateRequest.meta({
      id: 'WebhookRequest',
      example: {
        url: 'https://hooks.example.com/psc',
        events: ['job.dead', 'breaker.opened'],
        description: 'on-call channel',
      },
    }),
    responses: {
      201: {
        description: 'The subscription, with its signing secret (shown this once)',
        schema: webhookCreated.meta({ id: 'WebhookCreated' }),
      },
    },
    errors: [409],
  }),
  list: operation({
    method: 'get',
    path: '/webhooks',
    operationId: 'listWebhooks',
    summary: 'Webhook subscriptions, with whether each is enabled and why not',
    tag,
    role: 'viewer',
    responses: {
      200: {
        description: 'Every subscription (at most 100)',
        schema: z.object({ items: z.array(Webhook) }).meta({ id: 'WebhookList' }),
      },
    },
  }),
  get: operation({
    method: 'get',
    path: '/webhooks/:id',
    operationId: 'getWebhook',
    summary: 'A webhook subscription (never its secret)',
    tag,
    role: 'viewer',
    params: byId,
    responses: { 200: { description: 'The subscription', schema: Webhook } },
    errors: [404],
  }),
  delete: operation({
    method: 'delete',
    path: '/webhooks/:id',
    operationId: 'deleteWebhook',
    summary: 'Delete a subscription and its delivery log; pending deliveries are not sent',
    tag,
    role: 'admin',
    params: byId,
    responses: { 204: { description: 'Deleted' } },
    errors: [404],
  }),
  enable: operation({
    method: 'post',
    path: '/webhooks/:id/enable',
    operationId: 'enableWebhook',
    summary: 'Switch a subscription back on; its failure count starts again',
    tag,
    role: 'admin',
    params: byId,
    responses: { 200: { description: 'The subscription', schema: Webhook } },
    errors: [404],
  }),
  disable: operation({
    method: 'post',
    path: '/webhooks/:id/disable',
    operationId: 'disableWebhook',
    summary: 'Switch a subscription off: no new deliveries, pending ones wait',
    tag,
    role: 'admin',
    params: byId,
    responses: { 200: { description: 'The subscription', schema: Webhook } },
    errors: [404],
  }),
  test: operation({
    method: 'post',
    path: '/webhooks/:id/test',
    operationId: 'testWebhook',
    summary: 'Queue a signed `webhook.test` delivery to the subscription’s URL',
    tag,
    role: 'admin',
    params: byId,
    responses: { 202: { description: 'The queued delivery', schema: WebhookDelivery } },
    errors: [404],
  }),
  deliveries: operation({
    method: 'get',
    path: '/webhooks/:id/deliveries',
    operationId: 'listWebhookDeliveries',
    summary: 'The delivery log, newest first: status, attempts, response codes, latency, errors',
    description:
      'Finished deliveries are kept `PSC_WEBHOOK_RETENTION_DAYS` days. `id` is the `webhook-id` the receiver saw.',
    tag,
    role: 'viewer',
    params: byId,
    query: z.object({ status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(), ...pageRequest }),
    responses: {
      200: {
        description: 'A page of deliveries',
        schema: page(WebhookDelivery).meta({ id: 'WebhookDeliveryPage' }),
      },
    },
    errors: [404],
  }),
};

/** Webhook subscriptions, owned by the platform-registry (which keeps secrets and egress). */
export function webhookRoutes(
  rpc: RpcClient<'gateway'>,
  deps: { audit: AuditRepository; clock: Clock },
): Router {
  const router = new Router();
  const ops = webhookOperations;
  const audit = (ctx: Context, action: string, targetId: string, details: object = {}) =>
    deps.audit.append({
      at: deps.clock.now(),
      actorKeyId: principalOf(ctx).keyId,
      action,
      targetType: 'webhook',
      targetId,
      details: details as Record<string, unknown>,
    });

  route(router, ops.create, async (ctx, { body }) => {
    const created = await rpc.call(webhookCreate, body);
    await audit(ctx, 'webhook.created', created.id, { events: created.events });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/webhooks/${created.id}`);
    ctx.body = created;
  });
  route(router, ops.list, (ctx) => relay(ctx, rpc.relay(webhookList, {})));
  route(router, ops.get, (ctx, { params }) => relay(ctx, rpc.relay(webhookGet, params)));
  route(router, ops.delete, async (ctx, { params }) => {
    await rpc.call(webhookDelete, params);
    await audit(ctx, 'webhook.deleted', params.id);
    ctx.status = 204;
  });
  for (const [op, enabled] of [
    [ops.enable, true],
    [ops.disable, false],
  ] as const) {
    route(router, op, async (ctx, { params }) => {
      ctx.body = await rpc.call(webhookSetEnabled, { id: params.id, enabled });
      await audit(ctx, enabled ? 'webhook.enabled' : 'webhook.disabled', params.id);
    });
  }
  route(router, ops.test, async (ctx, { params }) => {
    ctx.body = await rpc.call(webhookTest, params);
    ctx.status = 202;
  });
  route(router, ops.deliveries, (ctx, { params, query }) =>
    relay(ctx, rpc.relay(webhookDeliveries, { ...query, id: params.id })),
  );
  return router;
}
