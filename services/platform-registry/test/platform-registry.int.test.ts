import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  platformCreate,
  platformGet,
  platformGetWithSecrets,
  platformList,
  platformPatch,
  platformTest,
} from '@psc/contracts';
import { AppError, systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import { createBroker, createRpcClient, type Broker, type RpcClient } from '@psc/messaging';
import { createWorkerSeal } from '@psc/platform-http';
import { createLogger, createMetrics } from '@psc/telemetry';
import {
  createIsolatedEnv,
  startFakePlatform,
  startTcpProxy,
  waitFor,
  type FakePlatform,
  type IsolatedEnv,
  type TcpProxy,
} from '@psc/testing';
import type { Knex } from 'knex';
import { createApp } from '../src/app.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { captureEvents, type EventCapture } from '../../../test/support/event-capture.ts';
import { platformAt, registryConfig } from './support.ts';

// The registry runs in-process with a stub resolver and a connect step that can only reach the
// fake platform on 127.0.0.1: whatever the egress guard decides, no socket leaves loopback.
const PUBLIC = '93.184.216.34';
const answers: Record<string, string[]> = {};
const connects: string[] = [];

const WORKER_KEY = randomBytes(32);

describe('platform-registry (in-process, outbox and egress)', () => {
  let env: IsolatedEnv;
  let proxy: TcpProxy;
  let knex: Knex;
  let brokers: Broker[];
  let rpc: RpcClient<'test'>;
  let app: ReturnType<typeof createApp>;
  let fake: FakePlatform;
  let events: EventCapture;

  before(async () => {
    env = await createIsolatedEnv({ name: 'registry' });
    fake = await startFakePlatform({ collections: { '/booth/all': [{ boothName: 'A' }] } });
    const amqp = new URL(env.amqpUrl);
    proxy = await startTcpProxy({ host: amqp.hostname, port: Number(amqp.port || 5672) });
    const logger = createLogger({ service: 'platform-registry', level: 'silent' });
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
    const direct = createBroker({ url: env.amqpUrl, connectionName: 'registry', logger });
    const viaProxy = createBroker({ url: proxy.url(env.amqpUrl), connectionName: 'pub', logger });
    const client = createBroker({ url: env.amqpUrl, connectionName: 'test', logger });
    brokers = [direct, viaProxy, client];
    const fakePort = Number(new URL(fake.url).port);
    app = createApp({
      config: registryConfig(env, {
        workerSecretKey: WORKER_KEY,
        egressAllow: ['127.0.0.1', 'allowed.test'],
      }),
      logger,
      knex,
      broker: direct,
      publishBroker: viaProxy,
      registry: createMetrics({ service: 'platform-registry' }).registry,
      clock: systemClock,
      egress: {
        resolve: (hostname) => Promise.resolve(answers[hostname] ?? []),
        connect: (options): Socket => {
          connects.push(String(options.host));
          return createConnection({ host: '127.0.0.1', port: fakePort });
        },
      },
    });
    await app.start();
    rpc = createRpcClient({ broker: client, appId: 'test', timeoutMs: 10_000 });
    events = await captureEvents(env.vhost, 'platform.#');
  });

  after(async () => {
    await rpc?.close();
    await app?.stop();
    for (const b of brokers ?? []) await b.close();
    await knex?.destroy();
    await proxy?.stop();
    await fake?.stop();
    await env?.cleanup();
  });

  const denied = async (promise: Promise<unknown>): Promise<AppError> => {
    const err = await promise.then(
      () => assert.fail('expected egress_denied'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'egress_denied');
    assert.equal(err.status, 422);
    return err;
  };

  it('when RabbitMQ is cut during an update, then the update succeeds and its event arrives once after restore', async () => {
    const created = await rpc.call(platformCreate, platformAt(fake.url, 'outbox-demo'));
    await waitFor(async () => (await events.drain()).some((e) => e.type === 'platform.registered'));
    // The relay deletes published rows in batches, a moment after the publish: wait for that, so
    // the only row left below is the update's.
    await waitFor(async () => {
      const rows = (await knex.withSchema(SCHEMA).table('outbox').count('* as n')) as unknown as {
        n: string;
      }[];
      return Number(rows[0]?.n) === 0;
    });
    proxy.cut();
    await waitFor(() => !brokers[1]!.isConnected(), { message: 'publish connection down' });
    const updated = await rpc.call(platformPatch, { id: created.id, patch: { priority: 8 } });
    assert.equal(updated.version, 2);
    const pending = (await knex.withSchema(SCHEMA).table('outbox').count('* as n')) as unknown as {
      n: string;
    }[];
    assert.equal(Number(pending[0]?.n), 1);
    assert.deepEqual(await events.drain(), []);
    proxy.restore();
    const got: { type: string; payload: Record<string, unknown> }[] = [];
    await waitFor(
      async () => {
        got.push(...(await events.drain()));
        return got.length > 0;
      },
      { timeoutMs: 30_000, message: 'platform.updated after restore' },
    );
    // Give a duplicate every chance to show up: wait until the outbox is empty, then drain again.
    await waitFor(async () => {
      const rows = (await knex.withSchema(SCHEMA).table('outbox').count('* as n')) as unknown as {
        n: string;
      }[];
      return Number(rows[0]?.n) === 0;
    });
    got.push(...(await events.drain()));
    assert.equal(got.length, 1);
    assert.equal(got[0]?.type, 'platform.updated');
    assert.equal((got[0]?.payload.platform as { version: number }).version, 2);
  });

  it('when a host answers public at save time and private at call time, then the test call is refused before any connection', async () => {
    answers['rebind.example.com'] = [PUBLIC];
    const created = await rpc.call(
      platformCreate,
      platformAt('http://rebind.example.com', 'rebinder'),
    );
    answers['rebind.example.com'] = ['10.0.0.7'];
    connects.length = 0;
    const err = await denied(rpc.call(platformTest, { id: created.id, params: {} }));
    assert.match(err.message, /rebind\.example\.com resolves to a blocked address \(private\)/);
    assert.deepEqual(connects, []);
  });

  it('when a host resolves to a private address at save time, then the platform is refused', async () => {
    answers['internal.example.com'] = ['192.168.0.10'];
    await denied(rpc.call(platformCreate, platformAt('http://internal.example.com', 'internal')));
    await denied(rpc.call(platformCreate, platformAt('http://169.254.169.254/latest', 'metadata')));
  });

  it('when a host is on the allow list, then it is saved and called', async () => {
    answers['allowed.test'] = ['10.9.9.9'];
    const fakePort = new URL(fake.url).port;
    const created = await rpc.call(
      platformCreate,
      platformAt(`http://allowed.test:${fakePort}`, 'allowed'),
    );
    connects.length = 0;
    const result = await rpc.call(platformTest, { id: created.id, params: {} });
    assert.equal(result.ok, true);
    assert.equal(result.itemCount, 1);
    assert.deepEqual(connects, ['allowed.test']);
  });

  it("when any broker client asks platform.get-with-secrets, then the reply holds the credential only sealed, which the workers' key alone opens", async () => {
    const token = `tok-${randomBytes(12).toString('hex')}`;
    const created = await rpc.call(platformCreate, {
      ...platformAt(fake.url, 'sealed-reply'),
      auth: { type: 'query', name: 'api_key', token },
    });
    const raw = (await rpc.relay(platformGetWithSecrets, { id: created.id })).toString('utf8');
    assert.ok(!raw.includes(token), 'plaintext credential in the reply');
    const reply = await rpc.call(platformGetWithSecrets, { id: created.id });
    assert.equal(reply.auth.type, 'query');
    const opened = createWorkerSeal(WORKER_KEY).open(reply);
    assert.deepEqual(opened.auth, { type: 'query', name: 'api_key', token });
    assert.throws(
      () => createWorkerSeal(randomBytes(32)).open(reply),
      /worker_key_mismatch|sealed under worker key/,
    );
  });
  it('when a stored credential cannot be opened (sealed under a retired key, or damaged), then the platform is still listed and read, masked, and only the workers’ read fails', async () => {
    const created = await rpc.call(platformCreate, {
      ...platformAt(fake.url, 'unopenable'),
      auth: { type: 'header', name: 'X-Key', token: `tok-${randomBytes(8).toString('hex')}` },
    });
    await knex
      .withSchema(SCHEMA)
      .table('platforms')
      .where({ id: created.id })
      .update({ auth_secret: knex.raw(`'v1:' || md5(auth_secret)`) });

    const listed = (await rpc.call(platformList, { limit: 100 })).items;
    const item = listed.find((p) => p.id === created.id);
    assert.deepEqual(item?.auth, { type: 'header', name: 'X-Key', token: '***' });
    assert.ok(listed.length > 1, 'the other platforms are listed too');
    const read = await rpc.call(platformGet, { id: created.id });
    assert.deepEqual(read.auth, { type: 'header', name: 'X-Key', token: '***' });
    await assert.rejects(rpc.call(platformGetWithSecrets, { id: created.id }), (err: AppError) => {
      assert.equal(err.code, 'secret_key_mismatch');
      assert.match(err.message, /does not open with PSC_SECRET_KEY/);
      return true;
    });
  });

  it('when lists are asked together, then identical ones get the same page, other pages their own, and a list asked after a create shows it', async () => {
    for (const name of ['list-a', 'list-b', 'list-c']) {
      answers[`${name}.test`] = [PUBLIC];
      await rpc.call(platformCreate, platformAt(`http://${name}.test`, name));
    }
    const names = (await rpc.call(platformList, { limit: 100 })).items.map((p) => p.name);
    const cursor = (await rpc.call(platformList, { limit: 1 })).nextCursor ?? undefined;
    assert.ok(cursor);
    // Sent in one turn, so the registry answers them in shared batches.
    const [first, again, second, rest] = await Promise.all([
      rpc.call(platformList, { limit: 1 }),
      rpc.call(platformList, { limit: 1 }),
      rpc.call(platformList, { limit: 2 }),
      rpc.call(platformList, { limit: 100, cursor }),
    ]);
    assert.deepEqual(
      first.items.map((p) => p.name),
      names.slice(0, 1),
    );
    assert.deepEqual(again, first);
    assert.deepEqual(
      second.items.map((p) => p.name),
      names.slice(0, 2),
    );
    assert.deepEqual(
      rest.items.map((p) => p.name),
      names.slice(1),
    );
    answers['list-d.test'] = [PUBLIC];
    await rpc.call(platformCreate, platformAt('http://list-d.test', 'list-d'));
    const after = await rpc.call(platformList, { limit: 100 });
    assert.ok(after.items.some((p) => p.name === 'list-d'));
  });
});
