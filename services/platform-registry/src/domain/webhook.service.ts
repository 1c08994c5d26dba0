import { randomBytes, randomUUID } from 'node:crypto';
import {
  MAX_WEBHOOKS,
  WEBHOOK_TEST_TYPE,
  type Webhook,
  type WebhookCreateRequest,
  type WebhookDelivery,
} from '@psc/contracts';
import { BadRequestError, ConflictError, NotFoundError, type Clock } from '@psc/core';
import type { EgressGuard } from '@psc/egress';
import type { WebhookRepository } from '../data-access/webhook.repository.ts';
import { notificationOf, webhookBody, type WebhookSourceEvent } from './webhook-events.ts';

/** A Standard Webhooks secret: `whsec_` and base64 of 24 random bytes. */
const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;
const newDeliveryId = (): string => `msg_${randomUUID().replaceAll('-', '')}`;

/** Subscriptions, and the deliveries events turn into. */
export function createWebhookService(deps: {
  repository: WebhookRepository;
  egress: EgressGuard;
  clock: Clock;
}) {
  const { repository } = deps;

  async function existing(id: string): Promise<Webhook> {
    const hook = await repository.findById(id);
    if (!hook) throw new NotFoundError(`webhook ${id} not found`);
    return hook;
  }

  return {
    /** The answer carries the secret this once; nothing else ever does. */
    async create(input: WebhookCreateRequest): Promise<Webhook & { secret: string }> {
      // The same guard as at send time: a URL psc may never call is refused now (422).
      await deps.egress.checkUrl(input.url);
      if ((await repository.count()) >= MAX_WEBHOOKS) {
        throw new ConflictError(`psc keeps at most ${MAX_WEBHOOKS} webhooks: delete one first`);
      }
      const now = deps.clock.now().toISOString();
      const secret = input.secret ?? newSecret();
      const hook = await repository.insert(
        {
          id: randomUUID(),
          url: input.url,
          events: input.events,
          description: input.description ?? null,
          enabled: true,
          createdAt: now,
          updatedAt: now,
        },
        secret,
      );
      return { ...hook, secret };
    },

    list: async () => ({ items: await repository.list() }),
    get: existing,

    async remove(id: string): Promise<{ id: string }> {
      if (!(await repository.delete(id))) throw new NotFoundError(`webhook ${id} not found`);
      return { id };
    },

    async setEnabled(id: string, enabled: boolean): Promise<Webhook> {
      const hook = await repository.setEnabled(id, enabled, deps.clock.now());
      if (!hook) throw new NotFoundError(`webhook ${id} not found`);
      return hook;
    },

    /** Queues a ping whatever the subscription's events, so a receiver can be tried out. */
    async test(id: string): Promise<WebhookDelivery> {
      const hook = await existing(id);
      const now = deps.clock.now();
      const delivery = {
        id: newDeliveryId(),
        webhookId: hook.id,
        eventId: randomUUID(),
        eventType: WEBHOOK_TEST_TYPE,
        body: webhookBody({
          type: WEBHOOK_TEST_TYPE,
          occurredAt: now.toISOString(),
          data: { webhookId: hook.id },
        }),
      };
      await repository.addDeliveries([delivery], now);
      return (await repository.findDelivery(delivery.id))!;
    },

    async deliveries(query: {
      id: string;
      status?: WebhookDelivery['status'];
      cursor?: string | undefined;
      limit: number;
    }) {
      await existing(query.id);
      const beforeSeq = query.cursor ? decodeCursor(query.cursor) : undefined;
      const page = await repository.deliveriesOf(query.id, {
        limit: query.limit,
        ...(query.status ? { status: query.status } : {}),
        ...(beforeSeq ? { beforeSeq } : {}),
      });
      return {
        items: page.items,
        nextCursor: page.lastSeq ? Buffer.from(page.lastSeq).toString('base64url') : null,
      };
    },

    /**
     * Turns a domain event into one stored delivery per enabled subscriber. Idempotent: the
     * event's id keys each delivery, so a redelivered event adds nothing.
     */
    async fanOut(event: WebhookSourceEvent): Promise<number> {
      const notification = notificationOf(event);
      if (!notification) return 0;
      // Every subscriber gets the same body; each delivery its own id.
      const subscribers = await repository.subscribersOf(notification.type);
      const body = webhookBody(notification);
      await repository.addDeliveries(
        subscribers.map((webhookId) => ({
          id: newDeliveryId(),
          webhookId,
          eventId: event.id,
          eventType: notification.type,
          body,
        })),
        deps.clock.now(),
      );
      return subscribers.length;
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

function decodeCursor(cursor: string): string {
  const seq = Buffer.from(cursor, 'base64url').toString();
  if (!/^\d{1,19}$/.test(seq)) {
    throw new BadRequestError('cursor must come from a previous page');
  }
  return seq;
}
