import type { Knex } from 'knex';
import type { Clock } from '@psc/core';
import { checkDb } from '@psc/db';
import { createHttpServer } from '@psc/http';
import {
  baseTopology,
  createOutbox,
  createPublisher,
  createRpcServer,
  type Broker,
} from '@psc/messaging';
import type { Logger, Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createPlatformRepository } from './data-access/platform.repository.ts';
import { createPlatformService } from './domain/platform.service.ts';
import { platformRpcHandlers } from './entry-points/rpc/platform.rpc.ts';
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
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'platform-registry' });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
  });
  const service = createPlatformService({
    repository: createPlatformRepository(knex),
    outbox,
    clock: deps.clock,
  });
  const rpc = createRpcServer({
    broker,
    service: 'platform-registry',
    handlers: platformRpcHandlers(service),
    logger,
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
      await rpc.start();
      started = true;
      logger.info({ url: address.url }, 'platform-registry started');
      return address;
    },
    async stop() {
      await rpc.stop();
      await outbox.stop();
      await publisher.close();
      await http.stop();
    },
  };
}
