import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { connect } from 'amqplib';
import type { Knex } from 'knex';
import { QUEUE_SPECS } from '@psc/contracts';
import { systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import { createBroker, queueName, type Broker } from '@psc/messaging';
import { createLogger, createMetrics } from '@psc/telemetry';
import { createIsolatedEnv, waitFor, type IsolatedEnv } from '@psc/testing';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

const LIMIT = 400;
const AUTH_FAILURES = 6;

interface Replica {
  app: ReturnType<typeof createApp>;
  url: string;
  broker: Broker;
}

/**
 * One HTTP request from `localAddress` (any 127.x address is loopback), so each test has a client
 * address of its own and failed attempts of one test do not count against another.
 */
function call(
  url: string,
  options: { key?: string; method?: string; body?: unknown; from: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? (payload ? 'POST' : 'GET'),
        localAddress: options.from,
        headers: {
          ...(options.key ? { 'x-api-key': options.key } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('gateway replicas: key revocation, shared limits, failed-authentication throttle', () => {
  let env: IsolatedEnv;
  let knex: Knex;
  const adminKey = `psc_admin_${randomBytes(16).toString('hex')}`;
  const replicas: Replica[] = [];

  async function startReplica(
    name: string,
    options: { bootstrapKey?: string; lines?: string[] } = {},
  ): Promise<Replica> {
    const { lines } = options;
    const logger = createLogger({
      service: 'gateway',
      level: lines ? 'warn' : 'silent',
      ...(lines && { destination: { write: (line: string) => void lines.push(line) } }),
    });
    const config = loadConfig({
      AMQP_URL: env.amqpUrl,
      DATABASE_URL: env.databaseUrl,
      HTTP_PORT: '0',
      PSC_ADMIN_API_KEY: options.bootstrapKey ?? adminKey,
      PSC_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      PSC_AUTH_FAILURES_PER_MINUTE: String(AUTH_FAILURES),
    });
    const broker = createBroker({ url: env.amqpUrl, connectionName: name, logger });
    const app = createApp({
      config,
      logger,
      broker,
      registry: createMetrics({ service: 'gateway' }).registry,
      knex,
      clock: systemClock,
      replicaId: name,
    });
    const { url } = await app.start();
    const replica = { app, url, broker };
    replicas.push(replica);
    return replica;
  }

  before(async () => {
    env = await createIsolatedEnv({ name: 'gateway-replicas' });
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
    await startReplica('gateway-a');
    await startReplica('gateway-b');
    await waitFor(() => replicas.every((r) => r.app.keyChecksFromMemory()), {
      timeoutMs: 10_000,
    });
  });

  after(async () => {
    for (const r of replicas) {
      await r.app.stop();
      await r.broker.close();
    }
    await knex?.destroy();
    await env?.cleanup();
  });

  it('when a key is revoked through one replica, then every replica refuses it within 1 s', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = '127.0.0.11';
    const created = await call(`${a.url}/api/v1/api-keys`, {
      key: adminKey,
      body: { name: 'dashboards', role: 'viewer' },
      from,
    });
    assert.equal(created.status, 201);
    const key = created.body.key as string;
    const id = created.body.id as string;
    // B learns the key created on A at its first use, and from then on answers from memory.
    assert.equal((await call(`${b.url}/api/v1/api-keys`, { key, from })).status, 403);
    assert.ok(b.app.keyChecksFromMemory(), 'B serves key checks from memory');

    const revoked = await call(`${a.url}/api/v1/api-keys/${id}`, {
      key: adminKey,
      method: 'DELETE',
      from,
    });
    assert.equal(revoked.status, 204);
    assert.equal((await call(`${a.url}/api/v1/api-keys`, { key, from })).status, 401);
    await waitFor(
      async () => (await call(`${b.url}/api/v1/api-keys`, { key, from })).status === 401,
      { timeoutMs: 1_000, intervalMs: 20 },
    );
    assert.ok(b.app.keyChecksFromMemory(), 'still from memory: the event did it, not a fallback');
  });

  it('when a replica’s key-events queue is deleted, then it checks keys against PostgreSQL until it has declared and consumed it again, within 5 s, and hears revocations again', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = '127.0.0.14';
    const amqp = await connect(env.amqpUrl);
    try {
      const ch = await amqp.createChannel();
      const deletedAt = Date.now();
      await ch.deleteQueue(queueName(QUEUE_SPECS.gatewayKeyEvents, 'gateway-a'));
      await waitFor(() => !a.app.keyChecksFromMemory(), {
        intervalMs: 10,
        message: 'A falls back to PostgreSQL',
      });
      await waitFor(() => a.app.keyChecksFromMemory(), {
        timeoutMs: 10_000,
        message: 'A checks keys from memory again',
      });
      const backMs = Date.now() - deletedAt;
      assert.ok(backMs < 5_000, `subscribed again after ${backMs} ms`);
    } finally {
      await amqp.close();
    }

    const created = await call(`${b.url}/api/v1/api-keys`, {
      key: adminKey,
      body: { name: 'after-the-deletion', role: 'viewer' },
      from,
    });
    assert.equal(created.status, 201);
    const key = created.body.key as string;
    assert.equal((await call(`${a.url}/api/v1/api-keys`, { key, from })).status, 403);
    const revoked = await call(`${b.url}/api/v1/api-keys/${created.body.id as string}`, {
      key: adminKey,
      method: 'DELETE',
      from,
    });
    assert.equal(revoked.status, 204);
    await waitFor(
      async () => (await call(`${a.url}/api/v1/api-keys`, { key, from })).status === 401,
      { timeoutMs: 1_000, intervalMs: 20 },
    );
    assert.ok(a.app.keyChecksFromMemory(), 'the event did it, not a fallback');
  });

  it('when requests of one key alternate over two replicas, then together they serve at most the limit', async () => {
    const from = '127.0.0.12';
    const created = await call(`${replicas[0]!.url}/api/v1/api-keys`, {
      key: adminKey,
      body: { name: 'busy', role: 'admin' },
      from,
    });
    const key = created.body.key as string;
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 20; i += 1) {
      const replica = replicas[i % 2]!;
      statuses.push((await call(`${replica.url}/api/v1/api-keys?limit=1`, { key, from })).status);
    }
    const served = statuses.filter((s) => s === 200).length;
    assert.ok(
      statuses.every((s) => s === 200 || s === 429),
      statuses.join(),
    );
    // Every served request holds a point of the shared counter; points a replica leased but
    // did not use (at most about a lease and a quarter each, a lease being 1 % of the limit)
    // are the only ones lost.
    assert.ok(served <= LIMIT, `served ${served} of a limit of ${LIMIT}`);
    assert.ok(served >= LIMIT - 2 * Math.ceil(LIMIT / 100) * 1.25, `served only ${served}`);
    assert.equal(statuses.at(-1), 429);
    assert.equal(statuses.at(-2), 429, 'both replicas refuse once the shared limit is used up');
  });

  it('when bad keys from one address alternate over two replicas, then the failures add up and the guesses from that address get 429, while its good key still works', async () => {
    const from = '127.0.0.13';
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_FAILURES + 2; i += 1) {
      const replica = replicas[i % 2]!;
      statuses.push(
        (await call(`${replica.url}/api/v1/api-keys`, { key: `psc_guess_${i}`, from })).status,
      );
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429]);
    for (const replica of replicas) {
      const guess = await call(`${replica.url}/api/v1/api-keys`, { key: 'psc_guess_x', from });
      assert.equal(guess.status, 429);
      assert.equal((guess.body.error as { code: string }).code, 'rate_limited');
      const res = await call(`${replica.url}/api/v1/api-keys`, { key: adminKey, from });
      assert.equal(res.status, 200);
    }
    // Another address is not affected.
    const other = await call(`${replicas[0]!.url}/api/v1/api-keys`, {
      key: adminKey,
      from: '127.0.0.14',
    });
    assert.equal(other.status, 200);
  });

  it('when the bootstrap key was revoked and a replica starts with it again, then it stays refused and the replica warns that only a new PSC_ADMIN_API_KEY makes one, which then works', async () => {
    const [a] = replicas as [Replica];
    const from = '127.0.0.15';
    const keeper = await call(`${a.url}/api/v1/api-keys`, {
      key: adminKey,
      body: { name: 'keeper', role: 'admin' },
      from,
    });
    assert.equal(keeper.status, 201);
    const keeperKey = keeper.body.key as string;
    const listed = await call(`${a.url}/api/v1/api-keys?limit=100`, { key: keeperKey, from });
    const bootstrap = (listed.body.items as { id: string; name: string }[]).find((k) =>
      k.name.startsWith('bootstrap admin'),
    );
    assert.ok(bootstrap, 'the bootstrap key is listed');
    const revoked = await call(`${a.url}/api/v1/api-keys/${bootstrap.id}`, {
      key: keeperKey,
      method: 'DELETE',
      from,
    });
    assert.equal(revoked.status, 204);

    const lines: string[] = [];
    const c = await startReplica('gateway-c', { lines });
    assert.equal((await call(`${c.url}/api/v1/api-keys`, { key: adminKey, from })).status, 401);
    assert.ok(
      lines.some((l) => /PSC_ADMIN_API_KEY was revoked.*set a new value/.test(l)),
      lines.join(''),
    );
    assert.ok(!lines.join('').includes(adminKey), 'the key itself is never logged');

    const fresh = `psc_admin_${randomBytes(16).toString('hex')}`;
    const quiet: string[] = [];
    const d = await startReplica('gateway-d', { bootstrapKey: fresh, lines: quiet });
    assert.equal((await call(`${d.url}/api/v1/api-keys`, { key: fresh, from })).status, 200);
    assert.deepEqual(
      quiet.filter((l) => l.includes('PSC_ADMIN_API_KEY')),
      [],
      'a new key starts without the warning',
    );
  });
});
