import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '@psc/core';
import { createRetention, openDatabase } from '@psc/db';
import { createEgressGuard } from '@psc/egress';
import { createIsolatedEnv, type IsolatedEnv } from '@psc/testing';
import type { Knex } from 'knex';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { createSecretBox } from '../src/data-access/secret-box.ts';
import {
  createWebhookRepository,
  deliveryRetention,
} from '../src/data-access/webhook.repository.ts';
import { loadConfig } from '../src/config.ts';
import type { WebhookSourceEvent } from '../src/domain/webhook-events.ts';
import { createWebhookService } from '../src/domain/webhook.service.ts';

const deadLettered = (id = randomUUID()) =>
  ({
    id,
    type: 'job.dead-lettered',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: id,
    payload: {
      jobId: randomUUID(),
      run: 1,
      platformId: randomUUID(),
      resource: 'orders',
      taskType: 'sync',
      trigger: 'api',
      status: 'dead',
      attempts: 4,
      error: { class: 'upstream_status', message: 'HTTP 500' },
      at: new Date().toISOString(),
    },
  }) as WebhookSourceEvent;

describe('webhook fan-out on PostgreSQL', () => {
  let env: IsolatedEnv;
  let knex: Knex;
  let service: ReturnType<typeof createWebhookService>;

  before(async () => {
    env = await createIsolatedEnv({ name: 'webhook-fan-out' });
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
    service = createWebhookService({
      repository: createWebhookRepository(knex, createSecretBox(randomBytes(32))),
      egress: createEgressGuard({ allow: ['127.0.0.1'] }),
      clock: systemClock,
    });
  });
  after(async () => {
    await knex?.destroy();
    await env?.cleanup();
  });

  const deliveriesOf = (eventId: string): Promise<{ webhook_id: string; event_type: string }[]> =>
    knex
      .withSchema(SCHEMA)
      .table('webhook_deliveries')
      .where({ event_id: eventId })
      .select('webhook_id', 'event_type');

  it('when the same event is handled twice, then each enabled subscriber to its type has exactly one delivery, and others none', async () => {
    const url = 'http://127.0.0.1:9/hook';
    const a = await service.create({ url, events: ['job.dead'] });
    const b = await service.create({ url, events: ['job.failed', 'job.dead'] });
    const other = await service.create({ url, events: ['job.failed'] });
    const off = await service.create({ url, events: ['job.dead'] });
    await service.setEnabled(off.id, false);

    const event = deadLettered();
    await service.fanOut(event);
    await service.fanOut(event);

    const rows = await deliveriesOf(event.id);
    assert.deepEqual(rows.map((r) => r.webhook_id).sort(), [a.id, b.id].sort());
    assert.ok(rows.every((r) => r.event_type === 'job.dead'));
    assert.ok(!rows.some((r) => r.webhook_id === other.id || r.webhook_id === off.id));
  });

  it('when a secret is stored, then the table holds it sealed, never in clear', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const hook = await service.create({
      url: 'http://127.0.0.1:9/x',
      events: ['job.dead'],
      secret,
    });
    const row = (await knex
      .withSchema(SCHEMA)
      .table('webhooks')
      .where({ id: hook.id })
      .first()) as {
      secret: string;
    };
    assert.ok(!row.secret.includes(secret.slice(6)), 'sealed');
    assert.match(row.secret, /^v1:/);
  });

  it('when finished deliveries are older than PSC_WEBHOOK_RETENTION_DAYS, then a retention pass deletes them, and pending and recent ones stay', async () => {
    const hook = await service.create({ url: 'http://127.0.0.1:9/hook', events: ['job.dead'] });
    const events = [deadLettered(), deadLettered(), deadLettered()];
    for (const event of events) await service.fanOut(event);
    const day = 86_400_000;
    const deliveries = () => knex.withSchema(SCHEMA).table('webhook_deliveries');
    const age = (event: WebhookSourceEvent, status: string, days: number) =>
      deliveries()
        .where({ event_id: event.id, webhook_id: hook.id })
        .update({ status, finished_at: new Date(Date.now() - days * day) });
    const [finishedOld, pendingOld, finishedRecent] = events;
    await age(finishedOld!, 'delivered', 8);
    await age(pendingOld!, 'pending', 8);
    await age(finishedRecent!, 'failed', 6);

    const config = loadConfig({
      AMQP_URL: env.amqpUrl,
      DATABASE_URL: env.databaseUrl,
      PSC_SECRET_KEY: randomBytes(32).toString('base64'),
      PSC_WORKER_SECRET_KEY: randomBytes(32).toString('base64'),
      PSC_WEBHOOK_RETENTION_DAYS: '7',
    });
    const retention = createRetention({
      knex,
      logger: { info: () => undefined, warn: () => undefined },
      rules: [deliveryRetention(config.webhooks.retentionDays * day)],
    });
    assert.deepEqual(await retention.runOnce(), { 'webhook deliveries': 1 });
    const left = await deliveries()
      .where({ webhook_id: hook.id })
      .select<{ event_id: string }[]>('event_id');
    assert.deepEqual(
      left.map((r) => r.event_id).sort(),
      [pendingOld!.id, finishedRecent!.id].sort(),
    );
  });
});
