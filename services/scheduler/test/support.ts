import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import pino from 'pino';
import {
  EXCHANGES,
  QUEUE_SPECS,
  jobRunNow,
  type RunNowRequest,
  platformGet,
  platformList,
  platformDeleted,
  platformRegistered,
  type JobRun,
  type MessageDefinition,
  type PayloadOf,
  platform as platformSchema,
  type Platform,
  type PlatformSummary,
  type TaskType,
} from '@psc/contracts';
import { NotFoundError, fromErrorBody } from '@psc/core';
import { createDb } from '@psc/db';
import {
  baseTopology,
  createBroker,
  createConsumer,
  createEnvelope,
  createPublisher,
  createRpcServer,
  rpcHandler,
  type Broker,
  type Consumer,
  type RpcClient,
  type RpcServer,
} from '@psc/messaging';
import {
  createIsolatedEnv,
  spawnService,
  waitUntilStarted,
  type IsolatedEnv,
  type ServiceProcess,
} from '@psc/testing';
import type { PlanReason } from '../src/domain/tick-plan.ts';

export const logger = pino({ level: 'silent' });

/**
 * A platform as the registry holds it (its full shape, not the scheduler's projection), for the
 * stand-in registry: each resource answers `GET /<name>` with its items under `data`.
 */
export function registryPlatform(
  at: Date,
  spec: {
    schedule?: Platform['schedule'];
    resources: { name: string; tasks?: TaskType[]; params?: string[] }[];
  },
): Platform {
  return platformSchema.parse({
    id: randomUUID(),
    name: `p-${randomUUID().slice(0, 8)}`,
    baseUrl: 'http://127.0.0.1:9/api',
    auth: { type: 'none' },
    version: 1,
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    ...(spec.schedule ? { schedule: spec.schedule } : {}),
    resources: spec.resources.map((r) => ({
      name: r.name,
      ...(r.tasks ? { tasks: r.tasks } : {}),
      ...(r.params ? { params: r.params } : {}),
      request: { path: `/${r.name}` },
      itemsPath: 'data',
      key: 'id',
      mapping: {},
    })),
  });
}

/**
 * A stand-in platform registry answering `platform.get` (404 for any id it lacks) and
 * `platform.list` from `platforms`: it knows platforms whose registration event never reached
 * the scheduler, as when that event is still in flight or was lost.
 */
export async function startStandInRegistry(
  broker: Broker,
  platforms: ReadonlyMap<string, Platform>,
): Promise<RpcServer> {
  const registry = createRpcServer({
    broker,
    service: 'platform-registry',
    logger,
    handlers: [
      rpcHandler(platformGet, ({ id }) => {
        const found = platforms.get(id);
        return found ? Promise.resolve(found) : Promise.reject(new NotFoundError(`no ${id}`));
      }),
      // By name, as the registry pages: the cursor is the last name of the page before.
      rpcHandler(platformList, ({ cursor, limit }) => {
        const sorted = [...platforms.values()]
          .filter((p) => !cursor || p.name > cursor)
          .sort((a, b) => (a.name < b.name ? -1 : 1));
        const items = sorted.slice(0, limit);
        return Promise.resolve({
          items,
          nextCursor: sorted.length > limit ? (items.at(-1)?.name ?? null) : null,
        });
      }),
    ],
  });
  await registry.start();
  return registry;
}
const entry = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Replica {
  process: ServiceProcess;
  url: string;
}

/** Starts one scheduler process on the isolated env and waits for `/ready`. */
async function startReplica(
  env: IsolatedEnv,
  name: string,
  extraEnv: Record<string, string> = {},
): Promise<Replica> {
  const child = spawnService({
    name,
    entry,
    env: {
      AMQP_URL: env.amqpUrl,
      DATABASE_URL: env.databaseUrl,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      OTEL_SERVICE_NAME: 'scheduler',
      PSC_SCHEDULER_REPLICA_ID: name,
      ...extraEnv,
    },
  });
  const url = await waitUntilStarted(child);
  return { process: child, url };
}

/**
 * Scheduler processes on a vhost and database of their own, for one `describe`: registers its
 * `before` (the environment, a test broker, a connection to the scheduler's tables) and its
 * `after` (every replica started through `start` is stopped, continued first in case a test
 * froze it, then the rest goes). The fields are set once `before` has run.
 */
export function replicaSuite(name: string) {
  const started: Replica[] = [];
  const suite = {
    env: undefined as unknown as IsolatedEnv,
    mq: undefined as unknown as ReturnType<typeof testBroker>,
    db: undefined as unknown as Knex,
    /** Starts a replica that the suite stops at its end. */
    async start(replica: string, extraEnv: Record<string, string> = {}): Promise<Replica> {
      const r = await startReplica(suite.env, replica, extraEnv);
      started.push(r);
      return r;
    },
  };
  before(async () => {
    suite.env = await createIsolatedEnv({ name });
    suite.mq = testBroker(suite.env);
    suite.db = schedulerDb(suite.env);
  });
  after(async () => {
    // A stopped process ignores SIGTERM until it is continued.
    for (const r of started) r.process.kill('SIGCONT');
    await Promise.all(started.map((r) => r.process.stop()));
    await suite.mq?.close();
    await suite.db?.destroy();
    await suite.env?.cleanup();
  });
  return suite;
}

export function platformSummary(overrides: Partial<PlatformSummary> = {}): PlatformSummary {
  return {
    id: randomUUID(),
    name: `p-${randomUUID().slice(0, 8)}`,
    active: true,
    priority: 5,
    version: 1,
    baseUrl: 'http://127.0.0.1:9/api',
    resources: [{ name: 'booths', tasks: ['sync'] }],
    ...overrides,
  };
}

/** Test-side broker: announces platforms as the registry would and reads the job queue. */
export function testBroker(env: IsolatedEnv) {
  const broker: Broker = createBroker({ url: env.amqpUrl, connectionName: 'test', logger });
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'test' });
  const consumers: Consumer[] = [];
  /** An event on `psc.events` as its owner publishes it: a worker's job report, a platform change. */
  const publish = <M extends MessageDefinition>(def: M, payload: PayloadOf<M>) =>
    publisher.publish(EXCHANGES.events, def.type, createEnvelope(def, payload));
  return {
    broker,
    publish,
    async announce(platform: PlatformSummary): Promise<void> {
      await publish(platformRegistered, { platform });
    },
    /** Announces a platform's deletion as the registry would. */
    async retire(platformId: string, version: number): Promise<void> {
      await publish(platformDeleted, { platformId, version });
    },
    /** The cancellations the scheduler sends a worker service, as they arrive. */
    async captureCancellations(
      queue: typeof QUEUE_SPECS.syncWorkerCancellations | typeof QUEUE_SPECS.collectorCancellations,
    ) {
      const received: { jobId: string; run: number; reason?: string | undefined }[] = [];
      const consumer = createConsumer({
        broker,
        queue,
        logger,
        handler: (message) => {
          received.push(message.payload);
          return Promise.resolve();
        },
      });
      await consumer.start();
      consumers.push(consumer);
      return { received, stop: () => consumer.stop() };
    },
    /** Consumes a job queue (standing in for the workers); returns what arrived. */
    async consumeJobs(
      prefetch = 100,
      queue: typeof QUEUE_SPECS.syncJobs | typeof QUEUE_SPECS.collectorJobs = QUEUE_SPECS.syncJobs,
    ) {
      const received: { payload: JobRun; priority: number | undefined; at: number }[] = [];
      const consumer = createConsumer({
        broker,
        queue,
        logger,
        prefetch,
        handler: (message, ctx) => {
          received.push({
            payload: message.payload,
            priority: ctx.priority,
            at: Date.now(),
          });
          return Promise.resolve();
        },
      });
      await consumer.start();
      consumers.push(consumer);
      return { received, stop: () => consumer.stop() };
    },
    async close(): Promise<void> {
      for (const c of consumers) await c.stop();
      await publisher.close();
      await broker.close();
    },
  };
}

/** One run-now request through the batched RPC; its error thrown as the gateway would. */
export async function runNow(
  rpc: RpcClient<'test'>,
  request: RunNowRequest,
): Promise<{ jobs: { id: string; status: 'queued' }[] }> {
  const { results } = await rpc.call(jobRunNow, { requests: [request] });
  const result = results[0]!;
  if (!result.ok) throw fromErrorBody(result.error);
  return { jobs: result.jobs };
}

function schedulerDb(env: IsolatedEnv): Knex {
  return createDb({ url: env.databaseUrl, schema: 'scheduler' });
}

/** The runs the schedules of `platformId` made, oldest due time first. */
export function scheduledRuns(
  db: Knex,
  platformId: string,
): Promise<{ scheduled_for: Date; created_at: Date }[]> {
  return db
    .withSchema('scheduler')
    .table('jobs')
    .where({ platform_id: platformId, trigger: 'schedule' })
    .select<{ scheduled_for: Date; created_at: Date }[]>('scheduled_for', 'created_at')
    .orderBy('scheduled_for');
}

/** The replica's `psc_scheduler_plans_total`, by reason (0 for a reason not seen yet). */
export async function plans(url: string): Promise<Record<PlanReason, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<PlanReason, number> = {
    leader: 0,
    changed: 0,
    due: 0,
    refresh: 0,
    ahead: 0,
  };
  for (const m of text.matchAll(/^psc_scheduler_plans_total\{[^}]*reason="(\w+)"[^}]*\} (\d+)/gm)) {
    counts[m[1] as PlanReason] = Number(m[2]);
  }
  return counts;
}
