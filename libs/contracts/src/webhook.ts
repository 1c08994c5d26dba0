import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { JOB_TRIGGERS, jobError } from './job.ts';
import { page, pageRequest } from './record.ts';
import { defineRpc } from './rpc.ts';
import { TASK_TYPES } from './topology.ts';

/**
 * The ledger put a job into the dead-letter queue: its retries ran out (`dead`) or it failed
 * for good (`failed`). Published by the scheduler in the transaction that ends the job.
 */
export const jobDeadLettered = defineMessage(
  'job.dead-lettered',
  1,
  z.object({
    jobId: z.uuid(),
    run: z.number().int().positive(),
    platformId: z.uuid(),
    resource: z.string(),
    taskType: z.enum(TASK_TYPES),
    trigger: z.enum(JOB_TRIGGERS),
    status: z.enum(['dead', 'failed']),
    attempts: z.number().int().nonnegative(),
    error: jobError.nullable(),
    at: z.iso.datetime(),
  }),
);

/** The scheduler paused one schedule by itself (failed runs in a row, or runs it cannot make). */
export const scheduleAutoPaused = defineMessage(
  'schedule.auto-paused',
  1,
  z.object({
    platformId: z.uuid(),
    resource: z.string(),
    taskType: z.enum(TASK_TYPES),
    reason: z.string().max(1_000),
    at: z.iso.datetime(),
  }),
);

/** What a webhook can subscribe to; the `type` of each delivery's body. */
export const WEBHOOK_EVENT_TYPES = [
  'job.dead',
  'job.failed',
  'validation.drift_detected',
  'breaker.opened',
  'schedule.auto_paused',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The test ping of `POST /webhooks/{id}/test`: sent whatever the subscription's events. */
export const WEBHOOK_TEST_TYPE = 'webhook.test';

/** How many subscriptions psc keeps: each event is fanned out to all of them. */
export const MAX_WEBHOOKS = 100;

/**
 * A Standard Webhooks secret: `whsec_` and base64 of 24 to 64 random bytes. The receiver
 * verifies signatures with it; psc shows it once, when it makes one.
 */
export const webhookSecret = z
  .string()
  .max(200)
  .refine((s) => {
    const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(s);
    if (!m?.[1]) return false;
    const bytes = Buffer.from(m[1], 'base64').length;
    return bytes >= 24 && bytes <= 64;
  }, 'must be whsec_ followed by base64 of 24 to 64 random bytes');

export const webhookCreateRequest = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2_000),
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES))
    .min(1)
    .max(WEBHOOK_EVENT_TYPES.length)
    .refine((e) => new Set(e).size === e.length, 'lists an event twice'),
  description: z.string().max(500).optional(),
  /** Leave out to have psc make one (returned once, in the answer). */
  secret: webhookSecret.optional(),
});
export type WebhookCreateRequest = z.infer<typeof webhookCreateRequest>;

/** A subscription as anyone may see it: never its secret. */
export const webhook = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  description: z.string().nullable(),
  enabled: z.boolean(),
  /** Why psc switched it off (failed deliveries in a row); null while enabled. */
  disabledReason: z.string().nullable(),
  disabledAt: z.iso.datetime().nullable(),
  /** Failed attempts since the last one the receiver accepted. */
  consecutiveFailures: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Webhook = z.infer<typeof webhook>;

export const webhookCreated = webhook.extend({
  /** The signing secret, shown this once. */
  secret: z.string(),
});

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

export const webhookAttempt = z.object({
  attempt: z.number().int().positive(),
  at: z.iso.datetime(),
  /** The receiver's HTTP status; null when none came (timeout, refused, egress denied). */
  statusCode: z.number().int().nullable(),
  latencyMs: z.number().nonnegative(),
  error: z.string().nullable(),
});

export const webhookDelivery = z.object({
  /** The `webhook-id` header: the same on every attempt, for the receiver to deduplicate. */
  id: z.string(),
  webhookId: z.uuid(),
  eventType: z.string(),
  /** `pending` until accepted (`succeeded`) or out of attempts (`failed`). */
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attempts: z.number().int().nonnegative(),
  nextAttemptAt: z.iso.datetime().nullable(),
  /** The body sent, `{type, timestamp, data}`. */
  payload: z.record(z.string(), z.unknown()),
  log: z.array(webhookAttempt),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
});
export type WebhookDelivery = z.infer<typeof webhookDelivery>;

const byId = z.object({ id: z.uuid() });

export const webhookCreate = defineRpc(
  'platform-registry',
  'webhook.create',
  webhookCreateRequest,
  webhookCreated,
);
export const webhookList = defineRpc(
  'platform-registry',
  'webhook.list',
  z.object({}),
  z.object({ items: z.array(webhook) }),
);
export const webhookGet = defineRpc('platform-registry', 'webhook.get', byId, webhook);
export const webhookDelete = defineRpc(
  'platform-registry',
  'webhook.delete',
  byId,
  z.object({ id: z.uuid() }),
);
/** Switches a subscription back on (its failure count starts again) or off by hand. */
export const webhookSetEnabled = defineRpc(
  'platform-registry',
  'webhook.set-enabled',
  byId.extend({ enabled: z.boolean() }),
  webhook,
);
/** Queues a `webhook.test` delivery to the subscription. */
export const webhookTest = defineRpc('platform-registry', 'webhook.test', byId, webhookDelivery);
export const webhookDeliveries = defineRpc(
  'platform-registry',
  'webhook.deliveries',
  byId.extend({
    status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
    ...pageRequest,
  }),
  page(webhookDelivery),
);
