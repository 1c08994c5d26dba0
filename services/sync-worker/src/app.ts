import type { Knex } from 'knex';
import {
  EXCHANGES,
  QUEUE_SPECS,
  breakerStateChanged,
  jobRunNow,
  platformGetWithSecrets,
} from '@psc/contracts';
import { fromErrorBody, stopInOrder, type Clock } from '@psc/core';
import { checkDb, createRetention, isUnavailableError } from '@psc/db';
import { createEgressGuard } from '@psc/egress';
import { createHttpServer } from '@psc/http';
import {
  createCancellationsConsumer,
  createJobRunner,
  createWorkerPlatforms,
  runnerRetention,
} from '@psc/job-runner';
import { createPlatformFetcher, createWorkerSeal } from '@psc/platform-http';
import {
  consumersUp,
  countProcessed,
  createEnvelope,
  createHeartbeat,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  outboxRpcHandler,
  publisherTopology,
  waitUntilDrained,
  type Broker,
} from '@psc/messaging';
import {
  PSC_METRICS,
  createConsumerMetrics,
  createJobMetrics,
  registerScrapeGauge,
  type Logger,
  type Metrics,
} from '@psc/telemetry';
import type { Config } from './config.ts';
import { createRecordRepository } from './data-access/record.repository.ts';
import {
  createValidationRepository,
  validationRetention,
} from './data-access/validation.repository.ts';
import { createSyncTasks } from './domain/sync-tasks.ts';
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

export function createApp(deps: AppDeps) {
  const { config, logger, knex, broker, clock } = deps;
  const publisher = createPublisher({
    broker,
    topology: publisherTopology('sync-worker'),
    appId: 'sync-worker',
  });
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
  registerScrapeGauge(
    deps.registry,
    PSC_METRICS.outboxPending,
    async () => [{ value: await outbox.pending() }],
    (err) => logger.warn({ err: String(err) }, 'outbox size not read for /metrics'),
  );
  registerScrapeGauge(
    deps.registry,
    PSC_METRICS.outboxOldestAge,
    async () => [{ value: await outbox.oldestAgeSeconds() }],
    (err) => logger.warn({ err: String(err) }, 'outbox age not read for /metrics'),
  );
  const fetcher = createPlatformFetcher({
    knex,
    schema: SCHEMA,
    service: 'sync-worker',
    workerId: config.workerId,
    maxBytes: config.fetchMaxBytes,
    turnWaitMs: config.platformTurnWaitMs,
    egress: createEgressGuard({ allow: config.egressAllow }),
    logger,
    registry: deps.registry,
    seal: createWorkerSeal(config.workerSecretKey, config.previousWorkerSecretKeys),
    onBreakerChange: (change) => {
      outbox
        .emit([
          {
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
          },
        ])
        .catch((err: unknown) => logger.warn({ err: String(err) }, 'breaker event not stored'));
    },
  });
  const records = createRecordRepository(knex);
  const validations = createValidationRepository(knex);
  const { cache: platforms, events: platformEvents } = createWorkerPlatforms({
    service: 'sync-worker',
    broker,
    fetch: (id) => rpcClient.call(platformGetWithSecrets, { id }),
    ttlMs: config.platformCacheTtlMs,
    workerId: config.workerId,
    logger,
    onDeleted: (platformId) => fetcher.forget(platformId),
  });
  const tasks = createSyncTasks({
    platforms,
    fetchPage: (platform, resource, request, options) =>
      fetcher.request(
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
    validations,
    clock,
    requestSync: async (platformId, resource) => {
      const { results } = await rpcClient.call(jobRunNow, {
        requests: [{ platformId, resource, taskType: 'sync', params: {} }],
      });
      const [result] = results;
      if (result && !result.ok) throw fromErrorBody(result.error);
    },
    logger,
  });
  const jobMetrics = createJobMetrics(deps.registry, Object.keys(tasks));
  const runner = createJobRunner({
    broker,
    queue: QUEUE_SPECS.syncJobs,
    knex,
    schema: SCHEMA,
    outbox,
    publisher,
    logger,
    clock,
    workerId: config.workerId,
    handlers: tasks,
    slots: config.jobs,
    maxAttempts: config.maxAttempts,
    retryTiersMs: config.retryTiersMs,
    jobTimeoutMs: config.jobTimeoutMs,
    startedNoticeMs: config.startedNoticeMs,
    crashLoopLimit: config.crashLoopLimit,
    isTransient: isUnavailableError,
    metrics: jobMetrics,
  });
  jobMetrics.countHandBacks(runner.consumer);
  const heartbeat = createHeartbeat({
    publisher,
    service: 'sync-worker',
    workerId: config.workerId,
    intervalMs: config.heartbeatMs,
    processed: countProcessed(runner.consumer),
    state: () => ({ currentJobs: runner.active(), openBreakers: fetcher.openBreakers() }),
    logger,
  });
  const cancellations = createCancellationsConsumer({
    broker,
    queue: QUEUE_SPECS.syncWorkerCancellations,
    runs: runner.runs,
    logger,
    retryTiersMs: config.retryTiersMs,
    isTransient: isUnavailableError,
    onCancelled: (key) => fetcher.releaseTurns(key),
  });
  const consumers = [cancellations, platformEvents, runner.consumer];
  createConsumerMetrics(deps.registry).watch(consumers);
  const rpc = createRpcServer({
    broker,
    service: 'sync-worker',
    handlers: [
      ...recordRpcHandlers({ records, validations, platforms }),
      ...fetcher.rpcHandlers(),
      runner.outcomesRpcHandler('sync-worker'),
      outboxRpcHandler('sync-worker', outbox),
      ...importRpcHandlers({
        knex,
        records,
        platforms: { get: (id) => rpcClient.call(platformGetWithSecrets, { id }) },
      }),
    ],
    logger,
  });
  // Run records, cancellations and drift reports are kept as long as the ledger keeps the job.
  const retention = createRetention({
    knex,
    logger: logger.child({ component: 'retention' }),
    rules: [
      ...runnerRetention(SCHEMA, config.jobRetentionMs),
      validationRetention(config.jobRetentionMs),
    ],
  });
  const http = createHttpServer({
    logger,
    registry: deps.registry,
    startupGate: true,
    readiness: {
      database: () => checkDb(knex),
      broker: () => broker.check(),
      consumers: () => consumersUp([...consumers, rpc]),
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
      await cancellations.start();
      await platformEvents.start();
      await fetcher.start();
      await runner.start();
      heartbeat.start();
      retention.start();
      http.markReady();
      logger.info({ url: address.url, workerId: config.workerId }, 'sync-worker started');
      return address;
    },
    /** Finishes in-flight jobs (they ack after their commit), then relays what they emitted. */
    async stop() {
      await stopInOrder(
        [
          ['retention', () => retention.stop()],
          ['job runner', () => runner.stop()],
          ['heartbeat', () => heartbeat.stop()],
          ['cancellations', () => cancellations.stop()],
          ['platform events', () => platformEvents.stop()],
          ['rpc server', () => rpc.stop()],
          ['outbox', () => outbox.stop()],
          ['rpc client', () => rpcClient.close()],
          ['publisher', () => publisher.close()],
          ['fetcher', () => fetcher.close()],
          ['http', () => http.stop()],
        ],
        (step, err) => logger.error({ err, step }, 'stop step failed'),
      );
    },
    /** Batch mode: resolves once the job queues are empty and nothing is in flight or unrelayed. */
    untilDrained: () =>
      waitUntilDrained({
        broker,
        queues: [QUEUE_SPECS.syncJobs.name, QUEUE_SPECS.syncWorkerCancellations.name],
        retryTiersMs: config.retryTiersMs,
        busy: async () => runner.consumer.inFlight() > 0 || (await outbox.pending()) > 0,
      }),
    /** Job consumer lifecycle events (`acked`, `retried`, `deferred`, `dead-lettered`), for tests. */
    jobs: runner.consumer,
    /** Whether this replica knows a run was cancelled (undefined while it cannot know), for tests. */
    knowsCancelled: runner.knowsCancelled,
    /** One retention pass now (it also runs once a minute): rows purged per rule. */
    purgeOld: retention.runOnce,
  };
}
