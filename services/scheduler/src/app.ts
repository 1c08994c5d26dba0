import type { Knex } from 'knex';
import { platformGet, platformList } from '@psc/contracts';
import { stopInOrder, type Clock, type StopStep } from '@psc/core';
import { checkDb, createRetention, isUnavailableError } from '@psc/db';
import { createHttpServer } from '@psc/http';
import {
  checkQueue,
  consumersUp,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  outboxRpcHandler,
  publisherTopology,
  type Broker,
} from '@psc/messaging';
import { createConsumerMetrics, currentTraceId, type Logger, type Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createControlRepository } from './data-access/control.repository.ts';
import { createCollectStopRepository } from './data-access/collect-stop.repository.ts';
import { createPlanChangeRepository } from './data-access/plan-change.repository.ts';
import { createControlStore } from './data-access/control.store.ts';
import { createDeadLetterRepository } from './data-access/dead-letter.repository.ts';
import { createJobRepository, jobRetention } from './data-access/job.repository.ts';
import { createLedgerStore } from './data-access/ledger.store.ts';
import { createLeaseRepository } from './data-access/lease.repository.ts';
import { createPlatformRepository } from './data-access/platform.repository.ts';
import { createPlatformCache } from './data-access/platform-cache.ts';
import { createScheduleRepository } from './data-access/schedule.repository.ts';
import { createSchedulerMetrics } from './data-access/scheduler.metrics.ts';
import { createTickStore, LEASE_NAME } from './data-access/tick.store.ts';
import { createBackfillStore } from './data-access/backfill.store.ts';
import { createBackfills } from './domain/backfills.ts';
import { createCollectSchedule } from './domain/collect-schedule.ts';
import { createReplayParamsCheck } from './domain/replay-params.ts';
import { createPlatformLookup } from './domain/platform-lookup.ts';
import { createPlatformSync } from './domain/platform-sync.ts';
import { createRunNow } from './domain/run-now.ts';
import { createSchedulerControl } from './domain/scheduler-control.ts';
import { createTaskConfigs } from './domain/task-config.ts';
import { createDeadLettersConsumers } from './entry-points/consumers/dead-letters.consumer.ts';
import { createJobEventsConsumer } from './entry-points/consumers/job-events.consumer.ts';
import { createPlatformEventsConsumer } from './entry-points/consumers/platform-events.consumer.ts';
import { dlqRpcHandlers } from './entry-points/rpc/dlq.rpc.ts';
import { backfillRpcHandlers } from './entry-points/rpc/backfill.rpc.ts';
import { jobRpcHandlers, schedulerRpcHandlers } from './entry-points/rpc/job.rpc.ts';
import { createReconcileLoop } from './entry-points/schedules/reconcile.loop.ts';
import { createPlatformCheckLoop } from './entry-points/schedules/platform-check.loop.ts';
import { createPlatformCheck } from './domain/platform-check.ts';
import { createTickLoop } from './entry-points/schedules/tick.loop.ts';
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
    topology: publisherTopology('scheduler'),
    appId: 'scheduler',
  });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
  });
  const rpcClient = createRpcClient({ broker, appId: 'scheduler', timeoutMs: config.rpcTimeoutMs });
  const control = createControlRepository(knex, SCHEMA);
  const platforms = createPlatformRepository(knex, SCHEMA);
  const schedules = createScheduleRepository(knex, SCHEMA);
  const metrics = createSchedulerMetrics({
    registry: deps.registry,
    knex,
    schema: SCHEMA,
    outboxPending: () => outbox.pending(),
    outboxOldestAge: () => outbox.oldestAgeSeconds(),
    control,
    platforms,
    schedules,
    now: () => clock.now(),
    logger,
  });
  const jobs = metrics.countingJobs(createJobRepository(knex));
  const leases = createLeaseRepository(knex, SCHEMA);
  const deadLetters = createDeadLetterRepository(knex);
  const ledger = metrics.countingLedger(
    createLedgerStore({ knex, clock, outbox, jobs, deadLetters, schedules, control }),
  );
  const registry = { get: (id: string) => rpcClient.call(platformGet, { id }) };
  // A platform registered a moment ago may still have its event in flight to the scheduler's
  // projection: every read by id falls back to the registry rather than answer 404.
  const platformById = createPlatformLookup({ registry, platforms, clock });
  const backfillStore = createBackfillStore({ knex, outbox, jobs, deadLetters, control });
  const backfills = createBackfills({
    store: backfillStore,
    platformById,
    clock,
  });
  const platformCache = createPlatformCache(platforms);
  const runNow = createRunNow({
    platforms,
    platformsById: (ids, fresh) => platformCache.getMany(ids, fresh),
    platformById,
    enqueue: (jobs, revisions, correlationId, traceParents) =>
      ledger.enqueue(jobs, revisions, correlationId, traceParents),
    clock,
    currentTraceId,
  });
  const collectStops = createCollectStopRepository(knex, SCHEMA);
  const store = createControlStore({
    knex,
    clock,
    outbox,
    control,
    platforms,
    schedules,
    jobs,
    collectStops,
  });
  const schedulerControl = createSchedulerControl({
    clock,
    store,
    control,
    leases,
    jobs,
    deadLetters,
    platforms,
    schedules,
  });
  const rpc = createRpcServer({
    broker,
    service: 'scheduler',
    handlers: [
      ...jobRpcHandlers({ jobs, runNow, ledger }),
      ...dlqRpcHandlers({
        deadLetters,
        jobs,
        ledger,
        checkReplayParams: createReplayParamsCheck({
          findJob: (id) => jobs.findById(id),
          platformById,
        }),
      }),
      ...backfillRpcHandlers({ backfills }),
      outboxRpcHandler('scheduler', outbox),
      ...schedulerRpcHandlers({
        control: schedulerControl,
        configs: createTaskConfigs({ clock, schedules, store }),
        platformSync: createPlatformSync({
          clock,
          store,
          control,
          platformById,
          schedules,
          jobs,
          liveConsumers: (queue) =>
            checkQueue(broker, queue).then(
              (q) => q?.consumerCount ?? 0,
              () => null,
            ),
        }),
        collectSchedule: createCollectSchedule({
          store,
          stops: collectStops,
          platformById,
        }),
        schedules,
      }),
    ],
    logger,
  });
  const jobEvents = createJobEventsConsumer({
    broker,
    ledger,
    isTransient: isUnavailableError,
    logger,
    prefetch: config.ledgerBatch,
    lingerMs: config.ledgerLingerMs,
  });
  const deadLetterConsumers = createDeadLettersConsumers({ broker, deadLetters, ledger, logger });
  const consumers = [jobEvents, ...deadLetterConsumers];
  const platformEvents = createPlatformEventsConsumer({
    broker,
    platforms,
    clock,
    isTransient: isUnavailableError,
    logger,
  });
  createConsumerMetrics(deps.registry).watch([jobEvents, platformEvents]);
  const tickStore = createTickStore({
    knex,
    outbox,
    leases,
    control,
    platforms,
    schedules,
    jobs,
    backfills: backfillStore,
    collectStops,
    planChanges: createPlanChangeRepository(knex, SCHEMA),
    logger,
    settings: config.scheduler,
    observeLag: metrics.observeLag,
    countPlan: metrics.countPlan,
  });
  const tick = () => tickStore.tick(clock.now());
  const loop = createTickLoop({
    tick,
    prepare: { run: tickStore.prepare, leadMs: tickStore.prepareLeadMs },
    tickMs: config.scheduler.tickMs,
    logger,
    onLeaderChange: metrics.setLeader,
  });
  const reconcile = createReconcileLoop({
    jobs,
    ledger,
    rpc: rpcClient,
    clock,
    isLeader: () => loop.isLeader(),
    ...config.reconcile,
    logger,
  });
  const checkPlatforms = createPlatformCheck({
    listPage: (request) => rpcClient.call(platformList, request),
    get: (id) => rpcClient.call(platformGet, { id }),
    upsertMany: (summaries, at) => platforms.upsertMany(summaries, at),
    projectedAfter: (afterId, limit) => platforms.projectedAfter(afterId, limit),
    markDeleted: (id, version, at) => platforms.markDeleted(id, version, at),
    clock,
  });
  const platformCheck = createPlatformCheckLoop({
    check: checkPlatforms,
    isLeader: () => loop.isLeader(),
    everyMs: config.platformCheckEveryMs,
    now: () => Date.now(),
    logger,
  });
  const http = createHttpServer({
    logger,
    registry: deps.registry,
    startupGate: true,
    readiness: {
      database: () => checkDb(knex),
      broker: () => broker.check(),
      consumers: () => consumersUp([platformEvents, ...consumers, rpc]),
    },
    port: config.http.port,
    host: config.http.host,
  });

  // Every replica purges (each batch skips rows another holds), not only the leader.
  const retention = createRetention({
    knex,
    logger: logger.child({ component: 'retention' }),
    rules: [jobRetention(config.retention.keepMs)],
    batch: config.retention.batch,
    now: () => clock.now(),
  });

  return {
    /** For tests: run one tick now, as the loop would. */
    tick,
    /** For tests: one retention pass now (it also runs once a minute): rows purged per rule. */
    purgeOld: retention.runOnce,
    /** For tests: one reconciliation pass now, as the leader would. */
    reconcile: () => reconcile.once(),
    /** For tests: one check of the platform projection against the registry now. */
    checkPlatforms,
    isLeader: () => loop.isLeader(),
    async start() {
      // Listening first keeps /health answering; /ready says no until the consumers are up.
      const address = await http.start();
      outbox.start();
      await platformEvents.start();
      for (const c of consumers) await c.start();
      await rpc.start();
      loop.start();
      reconcile.start();
      platformCheck.start();
      retention.start();
      http.markReady();
      logger.info({ url: address.url, replicaId: config.scheduler.replicaId }, 'scheduler started');
      return address;
    },
    async stop() {
      await stopInOrder(
        [
          ['retention', () => retention.stop()],
          ['reconcile', () => reconcile.stop()],
          ['platform check', () => platformCheck.stop()],
          ['tick loop', () => loop.stop()],
          // Hand the lease over at once instead of letting the others wait for it to expire
          // (they take it when it does, so a failure here costs only that wait).
          [
            'lease',
            () =>
              loop.isLeader() &&
              leases.release(LEASE_NAME, config.scheduler.replicaId).catch(() => {}),
          ],
          ['rpc server', () => rpc.stop()],
          ...consumers.map((c): StopStep => ['consumer', () => c.stop()]),
          ['platform events', () => platformEvents.stop()],
          ['outbox', () => outbox.stop()],
          ['rpc client', () => rpcClient.close()],
          ['publisher', () => publisher.close()],
          ['http', () => http.stop()],
        ],
        (step, err) => logger.error({ err, step }, 'stop step failed'),
      );
    },
  };
}
