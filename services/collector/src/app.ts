import type { Knex } from 'knex';
import {
  QUEUE_SPECS,
  collectScheduleControl,
  collectScheduleStops,
  platformGetWithSecrets,
  platformList,
  type Platform,
} from '@psc/contracts';
import { stopInOrder, type Clock, type StopStep } from '@psc/core';
import { checkDb, createRetention, isUnavailableError } from '@psc/db';
import { createEgressGuard, type EgressGuard } from '@psc/egress';
import { createHttpServer } from '@psc/http';
import {
  createCancellationsConsumer,
  createJobRunner,
  createWorkerPlatforms,
  runnerRetention,
} from '@psc/job-runner';
import {
  consumersUp,
  countProcessed,
  createHeartbeat,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  mergeTopologies,
  outboxRpcHandler,
  publisherTopology,
  queueTopology,
  waitUntilDrained,
  type Broker,
} from '@psc/messaging';
import { createPlatformFetcher, createWorkerSeal } from '@psc/platform-http';
import {
  PSC_METRICS,
  createConsumerMetrics,
  createJobMetrics,
  registerScrapeGauge,
  type Logger,
  type Metrics,
} from '@psc/telemetry';
import type { Config } from './config.ts';
import { createCollectionRepository } from './data-access/collection.repository.ts';
import { createCollectionStore } from './data-access/collection.store.ts';
import { createLegacyStopRepository } from './data-access/legacy-stop.repository.ts';
import { createLogRepository, logRetention } from './data-access/log.repository.ts';
import { createWorkerRepository, workerRetention } from './data-access/worker.repository.ts';
import { createCollectChildren } from './domain/collect-children.ts';
import { createCollectTask, type CollectDeps } from './domain/collect-task.ts';
import { createStopHandoff } from './domain/stop-handoff.ts';
import { createCollectChildrenConsumer } from './entry-points/consumers/collect-children.consumer.ts';
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
  const runsIndex = config.stages.includes('index');
  const runsChildren = config.stages.includes('children');
  const publisher = createPublisher({
    broker,
    // A stage-1-only replica still declares the children's queue: children it fans out before
    // any stage-2 replica has started wait there instead of going unrouted.
    topology: runsChildren
      ? publisherTopology('collector')
      : mergeTopologies(
          publisherTopology('collector'),
          queueTopology(QUEUE_SPECS.collectorChildren),
        ),
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
  const collections = createCollectionRepository(knex);
  const logs = createLogRepository(knex);
  const workers = createWorkerRepository(knex);
  const fetcher = createPlatformFetcher({
    knex,
    schema: SCHEMA,
    service: 'collector',
    workerId: config.workerId,
    maxBytes: config.fetchMaxBytes,
    turnWaitMs: config.platformTurnWaitMs,
    egress: deps.egress ?? createEgressGuard({ allow: config.egressAllow }),
    logger,
    registry: deps.registry,
    seal: createWorkerSeal(config.workerSecretKey, config.previousWorkerSecretKeys),
    onBreakerChange: ({ platformId, state }) => {
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
  const { cache: platforms, events: platformEvents } = createWorkerPlatforms({
    service: 'collector',
    broker,
    fetch: (id) => rpcClient.call(platformGetWithSecrets, { id }),
    ttlMs: config.platformCacheTtlMs,
    workerId: config.workerId,
    logger,
    onDeleted: (platformId) => fetcher.forget(platformId),
  });
  const collectDeps: CollectDeps = {
    platforms,
    fetch: (platform, request, options) => fetcher.request(platform, request, options),
    collections,
    clock,
    workerId: config.workerId,
  };
  // Stops this service kept before the scheduler owned them: handed over at start-up.
  const handoff = createStopHandoff({
    stops: createLegacyStopRepository(knex),
    handOver: (request) => rpcClient.call(collectScheduleControl, request),
    taken: async () => (await rpcClient.call(collectScheduleStops, {})).items,
    logger,
  });
  const jobMetrics = createJobMetrics(deps.registry, ['collect']);
  const runner = createJobRunner({
    broker,
    queue: QUEUE_SPECS.collectorJobs,
    knex,
    schema: SCHEMA,
    outbox,
    publisher,
    logger,
    clock,
    workerId: config.workerId,
    handlers: {
      collect: createCollectTask({
        ...collectDeps,
        stoppedHere: handoff.holds,
        maxChildren: config.fanOutMaxChildren,
      }),
    },
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
  const activeChildren = new Set<string>();
  const children = createCollectChildrenConsumer({
    broker,
    children: createCollectChildren({
      ...collectDeps,
      store: createCollectionStore({
        outbox,
        clock,
        collections,
        logs,
        workerId: config.workerId,
        finishJob: (...args) => runner.finishElsewhere(...args),
      }),
    }),
    logger,
    slots: config.children,
    maxAttempts: config.maxAttempts,
    retryTiersMs: config.retryTiersMs,
    isTransient: isUnavailableError,
    active: activeChildren,
  });
  jobMetrics.countHandBacks(children);
  const cancellations = createCancellationsConsumer({
    broker,
    queue: QUEUE_SPECS.collectorCancellations,
    runs: runner.runs,
    logger,
    retryTiersMs: config.retryTiersMs,
    isTransient: isUnavailableError,
    onCancelled: (key) => fetcher.releaseTurns(key),
  });
  const ops = createOpsEventsConsumer({
    broker,
    logs,
    workers,
    isTransient: isUnavailableError,
    logger,
  });
  // A replica consumes only its stages; /ready and batch mode's drain look at those alone.
  const stageConsumers = [...(runsIndex ? [runner] : []), ...(runsChildren ? [children] : [])];
  const consumers = [
    ops,
    cancellations,
    platformEvents,
    ...(runsIndex ? [runner.consumer] : []),
    ...(runsChildren ? [children] : []),
  ];
  createConsumerMetrics(deps.registry).watch(consumers);
  const heartbeat = createHeartbeat({
    publisher,
    service: 'collector',
    workerId: config.workerId,
    intervalMs: config.heartbeatMs,
    processed: countProcessed(runner.consumer),
    state: () => ({
      currentJobs: [...runner.active(), ...activeChildren],
      openBreakers: fetcher.openBreakers(),
    }),
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
    handlers: [
      ...collectorRpcHandlers({ collections, logs, workers, listPlatforms, clock }),
      ...fetcher.rpcHandlers(),
      runner.outcomesRpcHandler('collector'),
      outboxRpcHandler('collector', outbox),
    ],
    logger,
  });
  // Log entries, workers gone for an hour, and run records as long as the ledger keeps the job.
  const retention = createRetention({
    knex,
    logger: logger.child({ component: 'retention' }),
    rules: [
      logRetention(config.logRetentionMs),
      workerRetention,
      ...runnerRetention(SCHEMA, config.jobRetentionMs),
    ],
    now: () => clock.now(),
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
      await ops.start();
      await rpc.start();
      await cancellations.start();
      await platformEvents.start();
      await fetcher.start();
      // Reads the stops left before a job is taken; hands them over in the background.
      await handoff.start();
      for (const stage of stageConsumers) await stage.start();
      heartbeat.start();
      retention.start();
      http.markReady();
      logger.info(
        { url: address.url, workerId: config.workerId, stages: config.stages },
        'collector started',
      );
      return address;
    },
    /** Batch mode: resolves once the job queues are empty and nothing is in flight or unrelayed. */
    untilDrained: () =>
      waitUntilDrained({
        broker,
        queues: [
          ...(runsIndex ? [QUEUE_SPECS.collectorJobs.name] : []),
          ...(runsChildren ? [QUEUE_SPECS.collectorChildren.name] : []),
          QUEUE_SPECS.collectorOpsEvents.name,
        ],
        retryTiersMs: config.retryTiersMs,
        busy: async () =>
          runner.consumer.inFlight() + children.inFlight() > 0 || (await outbox.pending()) > 0,
      }),
    async stop() {
      let handedOff: Promise<void> = Promise.resolve();
      await stopInOrder(
        [
          ['retention', () => retention.stop()],
          // Stops retrying now; a call under way ends when the RPC client closes below. Its
          // failure is the later step's, not an unhandled rejection meanwhile.
          [
            'hand-off',
            () => {
              handedOff = handoff.stop();
              handedOff.catch(() => {});
            },
          ],
          ...stageConsumers.map((stage): StopStep => ['stage consumer', () => stage.stop()]),
          ['heartbeat', () => heartbeat.stop()],
          ['rpc server', () => rpc.stop()],
          ['cancellations', () => cancellations.stop()],
          ['platform events', () => platformEvents.stop()],
          ['operations', () => ops.stop()],
          ['outbox', () => outbox.stop()],
          ['rpc client', () => rpcClient.close()],
          ['hand-off', () => handedOff],
          ['publisher', () => publisher.close()],
          ['fetcher', () => fetcher.close()],
          ['http', () => http.stop()],
        ],
        (step, err) => logger.error({ err, step }, 'stop step failed'),
      );
    },
  };
}
