import type { Knex } from 'knex';
import {
  COLLECTOR_OPS_QUEUE,
  QUEUES,
  platformGetWithSecrets,
  platformList,
  type Platform,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import { checkDb } from '@psc/db';
import { createEgressGuard, type EgressGuard } from '@psc/egress';
import { createHttpServer } from '@psc/http';
import {
  baseTopology,
  countProcessed,
  createHeartbeat,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  mergeTopologies,
  collectJobQueue,
  waitUntilDrained,
  type Broker,
} from '@psc/messaging';
import { createPlatformBreakers, createPlatformHttpClient } from '@psc/platform-http';
import type { Logger, Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createCollectionRepository } from './data-access/collection.repository.ts';
import { createLogRepository } from './data-access/log.repository.ts';
import { createWorkerRepository } from './data-access/worker.repository.ts';
import { createCollectJob } from './domain/collect-job.ts';
import { createCollectJobsConsumer } from './entry-points/consumers/collect-jobs.consumer.ts';
import { createOpsEventsConsumer } from './entry-points/consumers/ops-events.consumer.ts';
import { collectorRpcHandlers } from './entry-points/rpc/collector.rpc.ts';
import { SCHEMA } from '../migrations/index.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  knex: Knex;
  broker: Broker;
  registry: Metrics['registry'];
  clock: Clock;
  /** Default: a guard built from `config.egressAllow`. */
  egress?: EgressGuard;
}

export function createApp(deps: AppDeps) {
  const { config, logger, knex, broker, clock } = deps;
  const publisher = createPublisher({
    broker,
    topology: mergeTopologies(baseTopology, collectJobQueue),
    appId: 'collector',
  });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
  });
  const rpcClient = createRpcClient({ broker, appId: 'collector', timeoutMs: config.rpcTimeoutMs });
  const collections = createCollectionRepository(knex);
  const logs = createLogRepository(knex);
  const workers = createWorkerRepository(knex);
  const breakers = createPlatformBreakers({
    logger,
    onChange: ({ platformId, state }) => {
      if (state === 'half-open') return;
      void logs
        .insert({
          at: clock.now().toISOString(),
          level: state === 'open' ? 'warn' : 'info',
          service: 'collector',
          platformId,
          jobId: null,
          message: `breaker ${state === 'open' ? 'opened' : 'closed'}`,
          fields: { workerId: config.workerId },
          traceId: null,
        })
        .catch(() => undefined);
    },
  });
  const platformClient = createPlatformHttpClient({
    maxBytes: config.fetchMaxBytes,
    egress: deps.egress ?? createEgressGuard({ allow: config.egressAllow }),
    breakers,
  });
  const collectJob = createCollectJob({
    platforms: { get: (id) => rpcClient.call(platformGetWithSecrets, { id }) },
    fetch: (platform, request) => platformClient.request(platform, request),
    collections,
    logs,
    outbox,
    clock,
    workerId: config.workerId,
  });
  const active = new Set<string>();
  const jobs = createCollectJobsConsumer({
    broker,
    collectJob,
    logger,
    prefetch: config.prefetch,
    maxAttempts: config.maxAttempts,
    active,
  });
  const ops = createOpsEventsConsumer({ broker, logs, workers, collections, logger });
  const heartbeat = createHeartbeat({
    publisher,
    service: 'collector',
    workerId: config.workerId,
    intervalMs: config.heartbeatMs,
    processed: countProcessed(jobs),
    state: () => ({ currentJobs: [...active], openBreakers: breakers.openBreakers() }),
    logger,
  });
  async function listPlatforms(): Promise<Platform[]> {
    const all: Platform[] = [];
    let cursor: string | undefined;
    do {
      const page = await rpcClient.call(platformList, {
        limit: 500,
        ...(cursor ? { cursor } : {}),
      });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }
  const rpc = createRpcServer({
    broker,
    service: 'collector',
    handlers: collectorRpcHandlers({ collections, logs, workers, listPlatforms, clock }),
    logger,
  });
  const retention = setInterval(() => {
    const now = clock.now();
    void logs.prune(new Date(now.getTime() - config.logRetentionMs)).catch(() => undefined);
    void workers.prune(now).catch(() => undefined);
  }, 60_000);
  retention.unref();

  const http = createHttpServer({
    logger,
    registry: deps.registry,
    startupGate: true,
    readiness: {
      database: () => checkDb(knex),
      broker: () => broker.check(),
    },
    port: config.http.port,
    host: config.http.host,
  });

  return {
    async start() {
      // Listening first keeps /health answering; /ready says no until the consumers are up.
      const address = await http.start();
      outbox.start();
      await ops.start();
      await rpc.start();
      await jobs.start();
      heartbeat.start();
      http.markReady();
      logger.info({ url: address.url, workerId: config.workerId }, 'collector started');
      return address;
    },
    /** Batch mode: resolves once the job queue is empty and nothing is in flight or unrelayed. */
    untilDrained: () =>
      waitUntilDrained({
        broker,
        queues: [QUEUES.collectorJobs, COLLECTOR_OPS_QUEUE],
        busy: async () => jobs.inFlight() > 0 || (await outbox.pending()) > 0,
      }),
    async stop() {
      clearInterval(retention);
      await jobs.stop();
      await heartbeat.stop();
      await rpc.stop();
      await ops.stop();
      await outbox.stop();
      await rpcClient.close();
      await publisher.close();
      platformClient.close();
      await http.stop();
    },
  };
}
