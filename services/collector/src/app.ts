import type { Knex } from 'knex';
import type { Clock } from '@psc/core';
import { checkDb } from '@psc/db';
import { createHttpServer } from '@psc/http';
import { baseTopology, createOutbox, createPublisher, type Broker } from '@psc/messaging';
import type { Logger, Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createCollectJobsConsumer } from './entry-points/consumers/collect-jobs.consumer.ts';
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
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'collector' });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
  });
  const jobs = createCollectJobsConsumer({
    broker,
    outbox,
    logger,
    prefetch: config.prefetch,
    clock: deps.clock,
  });
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
      await jobs.start();
      started = true;
      logger.info({ url: address.url }, 'collector started');
      return address;
    },
    async stop() {
      await jobs.stop();
      await outbox.stop();
      await publisher.close();
      await http.stop();
    },
  };
}
