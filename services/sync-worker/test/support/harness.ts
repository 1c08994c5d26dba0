import { randomBytes, randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import {
  EXCHANGES,
  jobCancelRequested,
  jobRun,
  platformDeleted,
  platformGetWithSecrets,
  platformWithSecrets,
  type Envelope,
  type PlatformWithSecrets,
  type SealedPlatform,
  type TaskType,
} from '@psc/contracts';
import { NotFoundError, systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import {
  baseTopology,
  createBroker,
  createEnvelope,
  createPublisher,
  createRpcClient,
  createRpcServer,
  rpcHandler,
  type Broker,
  type RpcClient,
} from '@psc/messaging';
import { createWorkerSeal } from '@psc/platform-http';
import { createLogger, createMetrics, type Metrics } from '@psc/telemetry';
import { createIsolatedEnv, startFakePlatform, waitFor } from '@psc/testing';
import type { Knex } from 'knex';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { SCHEMA, migrations } from '../../migrations/index.ts';

/** Short tiers so retries are quick; the last one is long enough for Retry-After: 2. */
export const TEST_TIERS_MS = [100, 200, 400, 2_500];

/** A resource `name` read from `GET /<name>`: items under `data`, keyed and mapped by `id`. */
export const itemsResource = (name: string) => ({
  name,
  request: { path: `/${name}` },
  itemsPath: 'data',
  key: 'id',
  mapping: { id: 'id' },
});

export interface Harness {
  knex: Knex;
  /** The test's own RabbitMQ vhost. */
  vhost: string;
  /** The harness's broker connection, for extra stand-in services. */
  broker: Broker;
  rpc: RpcClient<'test'>;
  app: ReturnType<typeof createApp>;
  /** The app's metrics (what its `/metrics` serves). */
  metrics: Metrics['registry'];
  /** Starts another sync-worker replica on the same vhost and database (stopped after the test). */
  addReplica(env: Record<string, string>): Promise<ReturnType<typeof createApp>>;
  events: Envelope<Record<string, unknown>>[];
  /**
   * Registers a platform with the stand-in registry; returns it with defaults filled. The
   * registry seals its credential under the worker's key, or under `sealedUnder`.
   */
  addPlatform(
    input: Record<string, unknown>,
    options?: { sealedUnder?: Buffer },
  ): PlatformWithSecrets;
  runJob(
    platform: PlatformWithSecrets,
    resource: string,
    options?: {
      taskType?: TaskType;
      params?: Record<string, unknown>;
      jobId?: string;
      run?: number;
    },
  ): Promise<string>;
  /** Deletes the platform from the stand-in registry and sends `platform.deleted`, as it does. */
  deletePlatform(platform: PlatformWithSecrets): Promise<void>;
  /** Sends `job.cancel-requested` for the run, as the ledger does. */
  cancelJob(jobId: string, run?: number): Promise<void>;
  /** Waits for `job.succeeded` or a final `job.failed` of the job's run; returns its payload. */
  finished(jobId: string, timeoutMs?: number, run?: number): Promise<Record<string, unknown>>;
  eventsOf(type: string, jobId?: string): Record<string, unknown>[];
}

/**
 * The real sync-worker in-process on a fresh vhost and database, with a stand-in platform
 * registry answering `platform.get-with-secrets` over RabbitMQ, and every event captured.
 */
export async function startHarness(
  t: TestContext,
  env: Record<string, string> = {},
): Promise<Harness> {
  const isolated = await createIsolatedEnv({ name: 'sync-worker' });
  const logger = createLogger({ service: 'sync-worker-test', level: 'silent' });
  const workerKey = randomBytes(32);
  const configOf = (overrides: Record<string, string>) =>
    loadConfig({
      PSC_WORKER_SECRET_KEY: workerKey.toString('base64'),
      AMQP_URL: isolated.amqpUrl,
      DATABASE_URL: isolated.databaseUrl,
      HTTP_PORT: '0',
      PSC_RETRY_TIERS_MS: TEST_TIERS_MS.join(','),
      PSC_EGRESS_ALLOW: '127.0.0.1,localhost',
      PSC_WORKER_ID: 'worker-test',
      ...overrides,
    });
  const config = configOf(env);
  const knex = await openDatabase({
    url: isolated.databaseUrl,
    schema: SCHEMA,
    migrations,
    lockTimeoutMs: config.lockTimeoutMs,
  });
  const broker = createBroker({
    url: isolated.amqpUrl,
    connectionName: 'sync-worker-test',
    logger,
  });
  const platforms = new Map<string, SealedPlatform>();
  const registry = createRpcServer({
    broker,
    service: 'platform-registry',
    logger,
    handlers: [
      rpcHandler(platformGetWithSecrets, ({ id }) => {
        const found = platforms.get(id);
        if (!found) return Promise.reject(new NotFoundError(`no platform ${id}`));
        return Promise.resolve(found);
      }),
    ],
  });
  await registry.start();
  const events: Envelope<Record<string, unknown>>[] = [];
  const tap = broker.createChannel('event-tap', async (ch) => {
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.assertExchange(EXCHANGES.events, 'topic', {
      durable: true,
      alternateExchange: EXCHANGES.unrouted,
    });
    await ch.bindQueue(queue, EXCHANGES.events, '#');
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        events.push(JSON.parse(msg.content.toString()) as Envelope<Record<string, unknown>>);
        ch.ack(msg);
      },
      {},
    );
  });
  await tap.waitForConnect();
  const appWith = (appConfig: typeof config, registry: Metrics['registry']) =>
    createApp({ config: appConfig, logger, knex, broker, registry, clock: systemClock });
  const metrics = createMetrics({ service: 'sync-worker' }).registry;
  const app = appWith(config, metrics);
  await app.start();
  const replicas: ReturnType<typeof createApp>[] = [];
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'test' });
  const rpc = createRpcClient({ broker, appId: 'test', timeoutMs: 5_000 });

  t.after(async () => {
    for (const replica of replicas) await replica.stop();
    await app.stop();
    await rpc.close();
    await publisher.close();
    await tap.close();
    await registry.stop();
    await broker.close();
    await knex.destroy();
    await isolated.cleanup();
  });

  const eventsOf = (type: string, jobId?: string) =>
    events
      .filter((e) => e.type === type && (jobId === undefined || e.payload.jobId === jobId))
      .map((e) => e.payload);

  return {
    knex,
    vhost: isolated.vhost,
    broker,
    rpc,
    app,
    metrics,
    async addReplica(replicaEnv) {
      const replica = appWith(
        configOf({ ...env, ...replicaEnv }),
        createMetrics({ service: 'sync-worker' }).registry,
      );
      replicas.push(replica);
      await replica.start();
      return replica;
    },
    events,
    eventsOf,
    addPlatform(input, options = {}) {
      const now = new Date().toISOString();
      const platform = platformWithSecrets.parse({
        name: `p-${randomUUID().slice(0, 8)}`,
        ...input,
        id: randomUUID(),
        version: 1,
        createdAt: now,
        updatedAt: now,
      });
      platforms.set(platform.id, createWorkerSeal(options.sealedUnder ?? workerKey).seal(platform));
      return platform;
    },
    async runJob(platform, resource, options = {}) {
      const jobId = options.jobId ?? randomUUID();
      const taskType = options.taskType ?? 'sync';
      await publisher.publish(
        EXCHANGES.jobs,
        taskType,
        createEnvelope(jobRun, {
          jobId,
          run: options.run ?? 1,
          platformId: platform.id,
          resource,
          taskType,
          priority: 5,
          trigger: 'api',
          params: options.params ?? {},
        }),
        { priority: 5 },
      );
      return jobId;
    },
    async deletePlatform(platform) {
      platforms.delete(platform.id);
      await publisher.publish(
        EXCHANGES.events,
        platformDeleted.type,
        createEnvelope(platformDeleted, {
          platformId: platform.id,
          version: platform.version + 1,
        }),
      );
    },
    async cancelJob(jobId, run = 1) {
      await publisher.publish(
        EXCHANGES.events,
        jobCancelRequested.type,
        createEnvelope(jobCancelRequested, { jobId, run, at: new Date().toISOString() }),
      );
    },
    finished(jobId, timeoutMs = 15_000, run = 1) {
      const ofRun = (p: Record<string, unknown>) => p.run === run;
      return waitFor(
        () =>
          eventsOf('job.succeeded', jobId).find(ofRun) ??
          eventsOf('job.failed', jobId).find((p) => ofRun(p) && p.outcome !== 'retrying'),
        { timeoutMs, message: `job ${jobId} run ${run} finished` },
      );
    },
  };
}

/**
 * A platform whose one page of three items is answered only once the test calls `answer`: a
 * run stays under way, its request out, for as long as the test needs.
 */
export async function heldPlatform(h: Harness, t: TestContext) {
  const fake = await startFakePlatform();
  t.after(() => fake.stop());
  let answer: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  fake.route('GET', '/items', async () => {
    await answered;
    return { body: { data: [1, 2, 3].map((i) => ({ id: `i${i}` })) } };
  });
  const platform = h.addPlatform({ baseUrl: fake.url, resources: [itemsResource('items')] });
  return { fake, platform, answer };
}
