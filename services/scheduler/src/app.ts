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
import { createJobRepository } from './data-access/job.repository.ts';
import { createRunNow } from './domain/run-now.ts';
import { createJobEventsConsumer } from './entry-points/consumers/job-events.consumer.ts';
import { jobRpcHandlers } from './entry-points/rpc/job.rpc.ts';
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
  const { config, logger, knex, broker } = deps;
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
  });
  const rpcClient = createRpcClient({ broker, appId: 'scheduler', timeoutMs: config.rpcTimeoutMs });
  const jobs = createJobRepository(knex);
  const runNow = createRunNow({
    platforms: { get: (id) => rpcClient.call(platformGet, { id }) },
    jobs,
    outbox,
    clock: deps.clock,
    currentTraceId,
  });
  const rpc = createRpcServer({
    broker,
    service: 'scheduler',
    handlers: jobRpcHandlers({ jobs, runNow }),
    logger,
  });
  const jobEvents = createJobEventsConsumer({ broker, jobs, logger });
  let started = false;
  const http = createHttpServer({
    logger,
    registry: deps.registry,
    readiness: {
      startup: () => (started ? Promise.resolve() : Promise.reject(new Error('still starting'))),
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
      await jobEvents.start();
      await rpc.start();
      started = true;
      logger.info({ url: address.url }, 'scheduler started');
      return address;
    },
    async stop() {
      await rpc.stop();
      await jobEvents.stop();
      await outbox.stop();
      await rpcClient.close();
      await publisher.close();
      await http.stop();
    },
  };
}
