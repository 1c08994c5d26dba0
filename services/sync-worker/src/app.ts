import type { Knex } from 'knex';
import { platformGetWithSecrets } from '@psc/contracts';
import type { Clock } from '@psc/core';
import { checkDb } from '@psc/db';
import { createHttpServer } from '@psc/http';
import {
  baseTopology,
  createOutbox,
  createPublisher,
  createRpcClient,
  createRpcServer,
  type Broker,
} from '@psc/messaging';
import type { Logger, Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { createJobRunRepository } from './data-access/job-run.repository.ts';
import { createPlatformClient } from './data-access/platform-http.client.ts';
import { createRecordRepository } from './data-access/record.repository.ts';
import { createSyncJob } from './domain/sync-job.ts';
import { createSyncJobsConsumer } from './entry-points/consumers/sync-jobs.consumer.ts';
import { recordRpcHandlers } from './entry-points/rpc/records.rpc.ts';
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
  const platformClient = createPlatformClient({ maxBytes: config.fetchMaxBytes, logger });
  const records = createRecordRepository(knex);
  const syncJob = createSyncJob({
    platforms: { get: (id) => rpcClient.call(platformGetWithSecrets, { id }) },
    fetchPage: (platform, request) => platformClient.get(platform, request),
    records,
    runs: createJobRunRepository(knex),
    outbox,
    clock: deps.clock,
    workerId: config.workerId,
  });
  const jobs = createSyncJobsConsumer({
    broker,
    syncJob,
    logger,
    prefetch: config.prefetch,
    maxAttempts: config.maxAttempts,
  });
  const rpc = createRpcServer({
    broker,
    service: 'sync-worker',
    handlers: recordRpcHandlers(records),
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
      await jobs.start();
      started = true;
      logger.info({ url: address.url, workerId: config.workerId }, 'sync-worker started');
      return address;
    },
    /** Finishes in-flight jobs (they ack after their commit), then relays what they emitted. */
    async stop() {
      await jobs.stop();
      await rpc.stop();
      await outbox.stop();
      await rpcClient.close();
      await publisher.close();
      platformClient.close();
      await http.stop();
    },
  };
}
