import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  platformCreate,
  platformGetWithSecrets,
  platformTest,
  webhookCreate,
  webhookDeliveries,
  webhookTest,
} from '@psc/contracts';
import { systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import { createBroker, createRpcClient, type Broker, type RpcClient } from '@psc/messaging';
import { createWorkerSeal } from '@psc/platform-http';
import { createLogger, createMetrics } from '@psc/telemetry';
import {
  createIsolatedEnv,
  startFakePlatform,
  waitFor,
  type FakePlatform,
  type IsolatedEnv,
} from '@psc/testing';
import type { Knex } from 'knex';
import { createApp } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { platformAt, registryConfig } from './support.ts';

/** A webhook receiver on loopback that keeps each request's raw body, to check its signature. */
async function startReceiver() {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('rotating PSC_SECRET_KEY (registry in-process)', () => {
  let env: IsolatedEnv;
  let knex: Knex;
  let client: Broker;
  let rpc: RpcClient<'test'>;
  let fake: FakePlatform;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    env = await createIsolatedEnv({ name: 'registry-key-rotation' });
    fake = await startFakePlatform({ collections: { '/booth/all': [{ boothName: 'A' }] } });
    receiver = await startReceiver();
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
    const logger = createLogger({ service: 'test', level: 'silent' });
    client = createBroker({ url: env.amqpUrl, connectionName: 'test', logger });
    rpc = createRpcClient({ broker: client, appId: 'test', timeoutMs: 10_000 });
  });

  /** Replicas still running: a failed assertion must not leave one holding the process open. */
  const running = new Set<{ stop(): Promise<void> }>();

  // Each test's replicas alone: another key's replica would fail their deliveries.
  beforeEach(async () => {
    for (const registry of running) await registry.stop();
  });

  after(async () => {
    for (const registry of running) await registry.stop();
    await rpc?.close();
    await client?.close();
    await knex?.destroy();
    await receiver?.stop();
    await fake?.stop();
    await env?.cleanup();
  });

  /** A registry replica with these keys; its log lines kept in `lines`. */
  async function startRegistry(keys: Partial<Config>, lines: string[] = []) {
    const logger = createLogger({
      service: 'platform-registry',
      level: 'info',
      destination: { write: (line: string) => void lines.push(line) },
    });
    const broker = createBroker({ url: env.amqpUrl, connectionName: 'registry', logger });
    const app = createApp({
      config: registryConfig(env, keys),
      logger,
      knex,
      broker,
      registry: createMetrics({ service: 'platform-registry' }).registry,
      clock: systemClock,
    });
    await app.start();
    const registry = {
      async stop() {
        running.delete(registry);
        await app.stop();
        await broker.close();
      },
    };
    running.add(registry);
    return registry;
  }

  it('when the registry starts with a new key and the old one in PSC_SECRET_KEY_PREVIOUS, then stored credentials keep working, are sealed again under the new key, and work once the old key is dropped', async () => {
    const [oldKey, newKey, workerKey] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const token = `tok-${randomBytes(12).toString('hex')}`;

    let registry = await startRegistry({ secretKey: oldKey, workerSecretKey: workerKey });
    const platform = await rpc.call(platformCreate, {
      ...platformAt(fake.url, 'rotated'),
      auth: { type: 'header', name: 'X-Key', token },
    });
    const hook = await rpc.call(webhookCreate, { url: receiver.url, events: ['job.dead'] });
    await registry.stop();

    const workerToken = async () => {
      const reply = await rpc.call(platformGetWithSecrets, { id: platform.id });
      return (createWorkerSeal(workerKey).open(reply).auth as { token?: string }).token;
    };

    // The rotation: the new key, the old one kept to open what it sealed.
    const lines: string[] = [];
    registry = await startRegistry(
      { secretKey: newKey, previousSecretKeys: [oldKey], workerSecretKey: workerKey },
      lines,
    );
    assert.equal(await workerToken(), token, 'the workers get the credential meanwhile');
    const done = await waitFor(
      () =>
        lines
          .map((l) => JSON.parse(l) as { msg: string; resealed?: number })
          .find((l) => l.msg.includes('PSC_SECRET_KEY_PREVIOUS can be removed')),
      { message: 'the re-seal pass reports that the old key can go' },
    );
    assert.equal(done.resealed, 2, 'the platform credential and the webhook secret');
    await registry.stop();

    // The old key dropped: everything it had sealed opens under the new one alone.
    await startRegistry({ secretKey: newKey, workerSecretKey: workerKey });
    assert.equal(await workerToken(), token);
    fake.clearRequests();
    await rpc.call(platformTest, { id: platform.id, params: {} });
    assert.equal(fake.requests.at(-1)?.headers['x-key'], token, 'the platform gets the token');
    await rpc.call(webhookTest, { id: hook.id });
    const delivery = await waitFor(() => receiver.received[0], {
      timeoutMs: 15_000,
      message: 'the test delivery',
    });
    // Signed with the secret given at creation: it verifies, or throws.
    new Webhook(hook.secret).verify(delivery.body, delivery.headers as Record<string, string>);
  });

  it('when a webhook’s signing secret does not open (stored under another key, or damaged), then its deliveries fail with the reason and the other subscriptions’ are still sent', async () => {
    await startRegistry({});
    const broken = await rpc.call(webhookCreate, { url: receiver.url, events: ['job.dead'] });
    const healthy = await rpc.call(webhookCreate, { url: receiver.url, events: ['job.dead'] });
    await knex
      .withSchema(SCHEMA)
      .table('webhooks')
      .where({ id: broken.id })
      .update({ secret: knex.raw(`'v1:' || md5(secret)`) });
    receiver.received.length = 0;
    // The broken one's delivery is queued first, so both go in the same pass.
    await rpc.call(webhookTest, { id: broken.id });
    await rpc.call(webhookTest, { id: healthy.id });

    const delivery = await waitFor(() => receiver.received[0], {
      timeoutMs: 15_000,
      message: 'the healthy subscription’s delivery',
    });
    new Webhook(healthy.secret).verify(delivery.body, delivery.headers as Record<string, string>);
    const attempt = await waitFor(
      async () =>
        (await rpc.call(webhookDeliveries, { id: broken.id, limit: 10 })).items[0]?.log[0],
      { timeoutMs: 15_000, message: 'the broken subscription’s failed attempt' },
    );
    assert.equal(attempt.statusCode, null);
    assert.match(String(attempt.error), /signing secret does not open with PSC_SECRET_KEY/);
    assert.equal(receiver.received.length, 1, 'nothing sent for the broken subscription');
  });
});
