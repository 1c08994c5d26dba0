import type { Knex } from 'knex';
import type { Webhook, WebhookDelivery, WebhookEventType } from '@psc/contracts';
import type { AttemptResult } from '../domain/webhook-retry.ts';
import type { RetentionRule } from '@psc/db';
import type { SecretBox } from './secret-box.ts';

interface WebhookRow {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  secret: string;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  consecutive_failures: number;
  created_at: Date;
  updated_at: Date;
}

interface DeliveryRow {
  seq: string;
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  body: string;
  status: WebhookDelivery['status'];
  attempts: number;
  next_attempt_at: Date | null;
  log: WebhookDelivery['log'];
  created_at: Date;
  finished_at: Date | null;
}

export interface NewDelivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  body: string;
}

/** A claimed delivery with what sending it needs; the secret stays out of every log. */
export interface DueDelivery {
  id: string;
  webhookId: string;
  body: string;
  attempt: number;
  url: string;
  /** Undefined when it does not open (sealed under a key the registry does not hold, or damaged). */
  secret: string | undefined;
}

/** The secret's associated data: a sealed webhook secret cannot pass for a platform's. */
export const secretContext = (id: string) => `webhook:${id}`;

/** A secret that does not open fails its own delivery, never the claim of the whole batch. */
function openedOrUndefined(open: () => string): string | undefined {
  try {
    return open();
  } catch {
    return undefined;
  }
}

function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at?.toISOString() ?? null,
    consecutiveFailures: row.consecutive_failures,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? (row.next_attempt_at?.toISOString() ?? null) : null,
    payload: JSON.parse(row.body) as Record<string, unknown>,
    log: row.log,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

/** Webhook subscriptions and their deliveries (the delivery log). */
/** Finished deliveries are kept `keepMs` in the delivery log (`PSC_WEBHOOK_RETENTION_DAYS`). */
export const deliveryRetention = (keepMs: number): RetentionRule => ({
  name: 'webhook deliveries',
  table: 'registry.webhook_deliveries',
  column: 'finished_at',
  keepMs,
  only: `status <> 'pending'`,
});

export function createWebhookRepository(knex: Knex, box: SecretBox) {
  const webhooks = (q: Knex | Knex.Transaction = knex) =>
    q.withSchema('registry').table('webhooks');
  const deliveries = (q: Knex | Knex.Transaction = knex) =>
    q.withSchema('registry').table('webhook_deliveries');

  return {
    async count(): Promise<number> {
      const row = (await webhooks().count<{ n: string }[]>('* as n').first()) as { n: string };
      return Number(row.n);
    },

    async insert(
      hook: Omit<Webhook, 'consecutiveFailures' | 'disabledAt' | 'disabledReason'>,
      secret: string,
    ): Promise<Webhook> {
      const [row] = (await webhooks()
        .insert({
          id: hook.id,
          url: hook.url,
          events: JSON.stringify(hook.events),
          description: hook.description,
          secret: box.seal(secret, secretContext(hook.id)),
          enabled: hook.enabled,
          created_at: new Date(hook.createdAt),
          updated_at: new Date(hook.updatedAt),
        })
        .returning('*')) as WebhookRow[];
      return toWebhook(row!);
    },

    async list(): Promise<Webhook[]> {
      return ((await webhooks().orderBy('created_at')) as WebhookRow[]).map(toWebhook);
    },

    async findById(id: string): Promise<Webhook | undefined> {
      const row = (await webhooks().where({ id }).first()) as WebhookRow | undefined;
      return row ? toWebhook(row) : undefined;
    },

    async delete(id: string): Promise<boolean> {
      return (await webhooks().where({ id }).delete()) === 1;
    },

    /** Switching on again forgives the failures that switched it off. */
    async setEnabled(id: string, enabled: boolean, at: Date): Promise<Webhook | undefined> {
      const [row] = (await webhooks()
        .where({ id })
        .update({
          enabled,
          updated_at: at,
          ...(enabled
            ? { disabled_reason: null, disabled_at: null, consecutive_failures: 0 }
            : { disabled_reason: 'disabled by hand', disabled_at: at }),
        })
        .returning('*')) as WebhookRow[];
      return row ? toWebhook(row) : undefined;
    },

    /** Enabled subscriptions to `type`. */
    async subscribersOf(type: WebhookEventType): Promise<string[]> {
      const rows: { id: string }[] = await webhooks()
        .where({ enabled: true })
        .whereRaw('events @> ?::jsonb', [JSON.stringify([type])])
        .select('id');
      return rows.map((r) => r.id);
    },

    /** Stores deliveries; one per subscription and event however often the event arrives. */
    async addDeliveries(rows: NewDelivery[], at: Date): Promise<void> {
      if (rows.length === 0) return;
      await deliveries()
        .insert(
          rows.map((r) => ({
            id: r.id,
            webhook_id: r.webhookId,
            event_id: r.eventId,
            event_type: r.eventType,
            body: r.body,
            status: 'pending',
            next_attempt_at: at,
            created_at: at,
          })),
        )
        .onConflict(['webhook_id', 'event_id'])
        .ignore();
    },

    /**
     * Takes up to `limit` due deliveries of enabled subscriptions and moves their next attempt
     * `leaseMs` ahead: a replica that dies while sending leaves them to be sent again then, with
     * the same `webhook-id`.
     */
    async claimDue(now: Date, leaseMs: number, limit: number): Promise<DueDelivery[]> {
      const rows = (await knex
        .raw<{ rows: unknown[] }>(
          `update registry.webhook_deliveries d
              set next_attempt_at = ?
             from registry.webhooks w
            where d.seq in (
                    select d2.seq from registry.webhook_deliveries d2
                      join registry.webhooks w2 on w2.id = d2.webhook_id and w2.enabled
                     where d2.status = 'pending' and d2.next_attempt_at <= ?
                     order by d2.next_attempt_at
                     limit ?
                       for update of d2 skip locked)
              and w.id = d.webhook_id
        returning d.id, d.webhook_id, d.body, d.attempts, w.url, w.secret`,
          [new Date(now.getTime() + leaseMs), now, limit],
        )
        .then((r: { rows: unknown[] }) => r.rows)) as {
        id: string;
        webhook_id: string;
        body: string;
        attempts: number;
        url: string;
        secret: string;
      }[];
      return rows.map((r) => ({
        id: r.id,
        webhookId: r.webhook_id,
        body: r.body,
        attempt: r.attempts + 1,
        url: r.url,
        secret: openedOrUndefined(() => box.open(r.secret, secretContext(r.webhook_id))),
      }));
    },

    /**
     * Logs attempt `attempt` of a delivery and counts it toward its subscription: a success
     * resets the failure streak, a failure extends it and, when `disable` says so, switches
     * the subscription off with the reason. False when another replica logged it first.
     */
    async recordAttempt(
      delivery: { id: string; webhookId: string; attempt: number },
      result: AttemptResult,
      next: { status: WebhookDelivery['status']; nextAttemptAt: Date | null },
      at: Date,
      disable: (failures: number) => string | undefined,
    ): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const entry = { attempt: delivery.attempt, at: at.toISOString(), ...result };
        const n = await deliveries(trx)
          .where({ id: delivery.id, attempts: delivery.attempt - 1, status: 'pending' })
          .update({
            attempts: delivery.attempt,
            status: next.status,
            next_attempt_at: next.nextAttemptAt,
            log: trx.raw(`log || ?::jsonb`, [JSON.stringify([entry])]),
            finished_at: next.status === 'pending' ? null : at,
          });
        if (n !== 1) return false;
        if (next.status === 'succeeded') {
          await webhooks(trx).where({ id: delivery.webhookId }).update({ consecutive_failures: 0 });
          return true;
        }
        const rows: { consecutive_failures: number; enabled: boolean }[] = await webhooks(trx)
          .where({ id: delivery.webhookId })
          .increment('consecutive_failures', 1)
          .returning(['consecutive_failures', 'enabled']);
        const row = rows[0];
        const reason = row?.enabled ? disable(row.consecutive_failures) : undefined;
        if (reason) {
          await webhooks(trx)
            .where({ id: delivery.webhookId })
            .update({ enabled: false, disabled_reason: reason, disabled_at: at, updated_at: at });
        }
        return true;
      });
    },

    async findDelivery(id: string): Promise<WebhookDelivery | undefined> {
      const row = (await deliveries().where({ id }).first()) as DeliveryRow | undefined;
      return row ? toDelivery(row) : undefined;
    },

    /** A subscription's deliveries, newest first, after the cursor's `seq`. */
    async deliveriesOf(
      webhookId: string,
      filter: { status?: WebhookDelivery['status']; beforeSeq?: string; limit: number },
    ): Promise<{ items: WebhookDelivery[]; lastSeq: string | null }> {
      const q = deliveries()
        .where({ webhook_id: webhookId })
        .orderBy('seq', 'desc')
        .limit(filter.limit + 1);
      if (filter.status) void q.where({ status: filter.status });
      if (filter.beforeSeq) void q.where('seq', '<', filter.beforeSeq);
      const rows = (await q) as DeliveryRow[];
      const more = rows.length > filter.limit;
      const page = rows.slice(0, filter.limit);
      return { items: page.map(toDelivery), lastSeq: more ? (page.at(-1)?.seq ?? null) : null };
    },
  };
}

export type WebhookRepository = ReturnType<typeof createWebhookRepository>;
