import type { Knex } from 'knex';
import { platformGet } from '@psc/contracts';
import type { Clock } from '@psc/core';
import { checkDb } from '@psc/db';
import { createHttpServer } from '@psc/http';
import {
  baseTopology,
  collectJobQueue,
  mergeTopologies,
  syncJobQueue,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  type Broker,
} from '@psc/messaging';
import { currentTraceId, type Logger, type Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createControlRepository } from './data-access/control.repository.ts';
import { createJobRepository } from './data-access/job.repository.ts';
import { createLeaseRepository } from './data-access/lease.repository.ts';
import { createPlatformRepository } from './data-access/platform.repository.ts';
import { createScheduleRepository } from './data-access/schedule.repository.ts';
import { createAutoPause } from './domain/auto-pause.ts';
import { createJobCancel } from './domain/job-cancel.ts';
import { createPlatformSync } from './domain/platform-sync.ts';
import { createRunNow } from './domain/run-now.ts';
import { createSchedulerControl } from './domain/scheduler-control.ts';
import { createSchedulerTick, LEASE_NAME } from './domain/scheduler-tick.ts';
import { createTaskConfigs } from './domain/task-config.ts';
import { createJobEventsConsumer } from './entry-points/consumers/job-events.consumer.ts';
import { createPlatformEventsConsumer } from './entry-points/consumers/platform-events.consumer.ts';
import { jobRpcHandlers, schedulerRpcHandlers } from './entry-points/rpc/job.rpc.ts';
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
    topology: mergeTopologies(baseTopology, syncJobQueue, collectJobQueue),
    appId: 'scheduler',
  });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
    batchSize: 1_000,
  });
  const rpcClient = createRpcClient({ broker, appId: 'scheduler', timeoutMs: config.rpcTimeoutMs });
  const jobs = createJobRepository(knex);
  const leases = createLeaseRepository(knex, SCHEMA);
  const control = createControlRepository(knex, SCHEMA);
  const platforms = createPlatformRepository(knex, SCHEMA);
  const schedules = createScheduleRepository(knex, SCHEMA);
  const runNow = createRunNow({
    knex,
    registry: { get: (id) => rpcClient.call(platformGet, { id }) },
    platforms,
    jobs,
    outbox,
    clock,
    currentTraceId,
  });
  const repos = { knex, clock, outbox, control, leases, jobs, platforms, schedules };
  const schedulerControl = createSchedulerControl(repos);
  const rpc = createRpcServer({
    broker,
    service: 'scheduler',
    handlers: [
      ...jobRpcHandlers({ jobs, runNow, cancel: createJobCancel(repos) }),
      ...schedulerRpcHandlers({
        control: schedulerControl,
        configs: createTaskConfigs({ ...repos, schema: SCHEMA }),
        platformSync: createPlatformSync(repos),
      }),
    ],
    logger,
  });
  const jobEvents = createJobEventsConsumer({
    broker,
    jobs,
    clock,
    onFinished: createAutoPause(repos),
    logger,
  });
  const platformEvents = createPlatformEventsConsumer({ broker, platforms, clock, logger });
  const tick = createSchedulerTick({ ...repos, logger, settings: config.scheduler });
  const loop = createTickLoop({ tick, tickMs: config.scheduler.tickMs, logger });
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
    /** For tests: run one tick now, as the loop would. */
    tick,
    isLeader: () => loop.isLeader(),
    async start() {
      // Listening first keeps /health answering; /ready says no until the consumers are up.
      const address = await http.start();
      outbox.start();
      await platformEvents.start();
      await jobEvents.start();
      await rpc.start();
      loop.start();
      http.markReady();
      logger.info({ url: address.url, replicaId: config.scheduler.replicaId }, 'scheduler started');
      return address;
    },
    async stop() {
      await loop.stop();
      // Hand the lease over at once instead of letting the others wait for it to expire.
      if (loop.isLeader())
        await leases.release(LEASE_NAME, config.scheduler.replicaId).catch(() => {});
      await rpc.stop();
      await jobEvents.stop();
      await platformEvents.stop();
      await outbox.stop();
      await rpcClient.close();
      await publisher.close();
      await http.stop();
    },
  };
}
