import type { Knex } from 'knex';
import {
  EXCHANGES,
  QUEUES,
  breakerStateChanged,
  jobRunNow,
  platformGetWithSecrets,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import { checkDb } from '@psc/db';
import { createEgressGuard } from '@psc/egress';
import { createHttpServer } from '@psc/http';
import { createPlatformHttpClient } from '@psc/platform-http';
import {
  baseTopology,
  countProcessed,
  createEnvelope,
  createHeartbeat,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  waitUntilDrained,
  type Broker,
} from '@psc/messaging';
import { registerGauge, type Logger, type Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createBreakerRegistry } from './data-access/breaker.registry.ts';
import { createCancellationRepository } from './data-access/cancellation.repository.ts';
import { createDeadLetterRepository } from './data-access/dead-letter.repository.ts';
import { createJobRunRepository } from './data-access/job-run.repository.ts';
import { createPlatformCache } from './data-access/platform.cache.ts';
import { createPlatformLimiter } from './data-access/platform-limiter.repository.ts';
import { createRecordRepository } from './data-access/record.repository.ts';
import { createValidationRepository } from './data-access/validation.repository.ts';
import { createSyncJob } from './domain/sync-job.ts';
import { createDeadLettersConsumer } from './entry-points/consumers/dead-letters.consumer.ts';
import {
  createCancellationsConsumer,
  createSyncJobsConsumer,
  syncWorkerTopology,
} from './entry-points/consumers/sync-jobs.consumer.ts';
import { createPlatformEventsConsumer } from './entry-points/consumers/platform-events.consumer.ts';
import { recordRpcHandlers } from './entry-points/rpc/records.rpc.ts';
import { importRpcHandlers } from './entry-points/rpc/import.rpc.ts';
import { SCHEMA } from '../migrations/index.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  knex: Knex;
  broker: Broker;
  registry: Metrics['registry'];
  clock: Clock;
}

const BREAKER_GAUGE = { closed: 0, 'half-open': 1, open: 2 } as const;

export function createApp(deps: AppDeps) {
  const { config, logger, knex, broker, clock } = deps;
  const topology = syncWorkerTopology(config.retryTiersMs);
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'sync-worker' });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
  });
  const rpcClient = createRpcClient({
    broker,
    appId: 'sync-worker',
    timeoutMs: config.rpcTimeoutMs,
  });
  const breakerGauge = registerGauge(deps.registry, {
    name: 'psc_platform_breaker_state',
    help: 'Breaker state per platform in this worker: 0 closed, 1 half-open, 2 open',
    labelNames: ['platform_id'],
  });
  const breakers = createBreakerRegistry({
    knex,
    workerId: config.workerId,
    logger,
    onChange: (change) => {
      breakerGauge.set({ platform_id: change.platformId }, BREAKER_GAUGE[change.state]);
      outbox
        .transaction((_trx, emit) =>
          emit({
            exchange: EXCHANGES.events,
            routingKey: breakerStateChanged.type,
            envelope: createEnvelope(
              breakerStateChanged,
              {
                platformId: change.platformId,
                workerId: config.workerId,
                state: change.state,
                at: change.at.toISOString(),
              },
              { now: clock.now() },
            ),
          }),
        )
        .catch((err: unknown) => logger.warn({ err: String(err) }, 'breaker event not stored'));
    },
  });
  const limiter = createPlatformLimiter(knex);
  const platformClient = createPlatformHttpClient({
    maxBytes: config.fetchMaxBytes,
    egress: createEgressGuard({ allow: config.egressAllow }),
    breakers: breakers.breakers,
    // Rate and concurrency limits hold across all worker replicas (leases in PostgreSQL).
    limit: (platform, task, signal) =>
      platform.rateLimit
        ? limiter.run(platform.id, platform.rateLimit, platform.timeoutMs + 5_000, task, signal)
        : task(),
  });
  const records = createRecordRepository(knex);
  const validations = createValidationRepository(knex);
  const deadLetters = createDeadLetterRepository(knex);
  const cancellations = createCancellationRepository(knex);
  // One registry RPC per platform per TTL instead of one per job (issue 7's profile).
  const platforms = createPlatformCache({
    fetch: (id) => rpcClient.call(platformGetWithSecrets, { id }),
    ttlMs: config.platformCacheTtlMs,
  });
  const platformEvents = createPlatformEventsConsumer({
    broker,
    cache: platforms,
    workerId: config.workerId,
    logger,
  });
  const syncJob = createSyncJob({
    platforms,
    fetchPage: (platform, resource, request, options) =>
      platformClient.request(
        platform,
        {
          method: resource.request.method,
          headers: resource.request.headers,
          body: resource.request.body,
          ...request,
        },
        options,
      ),
    records,
    runs: createJobRunRepository(knex),
    validations,
    cancellations,
    outbox,
    clock,
    workerId: config.workerId,
    jobTimeoutMs: config.jobTimeoutMs,
    requestSync: async (platformId, resource) => {
      await rpcClient.call(jobRunNow, { platformId, resource, taskType: 'sync', params: {} });
    },
    logger,
  });
  const active = new Set<string>();
  const jobs = createSyncJobsConsumer({
    broker,
    topology,
    syncJob,
    logger,
    prefetch: config.prefetch,
    maxAttempts: config.maxAttempts,
    retryTiersMs: config.retryTiersMs,
    active,
  });
  const heartbeat = createHeartbeat({
    publisher,
    service: 'sync-worker',
    workerId: config.workerId,
    intervalMs: config.heartbeatMs,
    processed: countProcessed(jobs),
    state: () => ({ currentJobs: [...active], openBreakers: breakers.breakers.openBreakers() }),
    logger,
  });
  const cancelConsumer = createCancellationsConsumer({
    broker,
    topology,
    cancellations,
    logger,
    retryTiersMs: config.retryTiersMs,
  });
  const deadLetterConsumer = createDeadLettersConsumer({ broker, topology, deadLetters, logger });
  const rpc = createRpcServer({
    broker,
    service: 'sync-worker',
    handlers: [
      ...recordRpcHandlers({ records, validations, deadLetters, breakers, outbox, clock }),
      // Issue 6: JSON-file imports through the same mapping and upsert.
      ...importRpcHandlers({
        knex,
        records,
        platforms: { get: (id) => rpcClient.call(platformGetWithSecrets, { id }) },
      }),
    ],
    logger,
  });
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
      await rpc.start();
      await deadLetterConsumer.start();
      await cancelConsumer.start();
      await platformEvents.start();
      await jobs.start();
      heartbeat.start();
      http.markReady();
      logger.info({ url: address.url, workerId: config.workerId }, 'sync-worker started');
      return address;
    },
    /** Finishes in-flight jobs (they ack after their commit), then relays what they emitted. */
    async stop() {
      await jobs.stop();
      await heartbeat.stop();
      await cancelConsumer.stop();
      await platformEvents.stop();
      await deadLetterConsumer.stop();
      await rpc.stop();
      await outbox.stop();
      await rpcClient.close();
      await publisher.close();
      platformClient.close();
      await http.stop();
    },
    /** Batch mode: resolves once the job queues are empty and nothing is in flight or unrelayed. */
    untilDrained: () =>
      waitUntilDrained({
        broker,
        queues: [QUEUES.syncJobs, QUEUES.syncWorkerCancellations],
        retryTiers: config.retryTiersMs.length,
        busy: async () => jobs.inFlight() > 0 || (await outbox.pending()) > 0,
      }),
    /** Job consumer lifecycle events (`acked`, `retried`, `deferred`, `dead-lettered`), for tests. */
    jobs,
  };
}
