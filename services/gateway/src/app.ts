import Router from '@koa/router';
import type { Knex } from 'knex';
import { stopInOrder, type Clock } from '@psc/core';
import { checkDb, createRetention } from '@psc/db';
import { createHttpServer, jsonBody } from '@psc/http';
import {
  baseTopology,
  createOutbox,
  createPublisher,
  createRpcClient,
  type Broker,
} from '@psc/messaging';
import type { Logger, Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { registerQueueMetrics } from './data-access/queue-metrics.ts';
import { auditTrail } from './entry-points/http/audit-trail.ts';
import { dataRoutes } from './entry-points/http/data.routes.ts';
import { backfillRoutes } from './entry-points/http/backfills.routes.ts';
import { webhookRoutes } from './entry-points/http/webhooks.routes.ts';
import { dlqRoutes } from './entry-points/http/dlq.routes.ts';
import { validationRoutes } from './entry-points/http/validations.routes.ts';
import { breakerRoutes } from './entry-points/http/breakers.routes.ts';
import { outboxRoutes } from './entry-points/http/outbox.routes.ts';
import { jobRoutes } from './entry-points/http/jobs.routes.ts';
import { platformControlRoutes } from './entry-points/http/platform-control.routes.ts';
import { schedulerRoutes } from './entry-points/http/scheduler.routes.ts';
import { platformRoutes } from './entry-points/http/platforms.routes.ts';
import { collectionRoutes } from './entry-points/http/collections.routes.ts';
import { collectorRoutes } from './entry-points/http/collectors.routes.ts';
import { logRoutes } from './entry-points/http/logs.routes.ts';
import { monitoringRoutes } from './entry-points/http/monitoring.routes.ts';
import { dataTransferRoutes } from './entry-points/http/data-transfer.routes.ts';
import {
  managementInspector,
  passiveInspector,
  withFallback,
} from './data-access/queue-inspector.ts';
import { createApiKeyRepository } from './data-access/api-key.repository.ts';
import { auditRetention, createAuditRepository } from './data-access/audit.repository.ts';
import { createJobReader } from './data-access/job-reader.ts';
import { createApiKeyService } from './domain/api-keys.ts';
import { createKeyDirectory } from './domain/key-directory.ts';
import { createLeasedLimiter, postgresStore } from './data-access/leased-limiter.ts';
import { createKeyEventsSubscription } from './entry-points/consumers/key-events.subscription.ts';
import { SCHEMA } from '../migrations/index.ts';
import { apiKeyRoutes } from './entry-points/http/api-keys.routes.ts';
import { authenticate } from './entry-points/http/auth.ts';
import { CONSOLE_DIST, consoleAssets } from './entry-points/http/console.ts';
import { cors } from './entry-points/http/cors.ts';
import { docsRoutes } from './entry-points/http/docs.routes.ts';
import { buildOpenApi } from './entry-points/http/openapi.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  broker: Broker;
  registry: Metrics['registry'];
  /** The gateway's own schema: API keys, audit log, rate-limit counters. */
  knex: Knex;
  clock: Clock;
  /** This replica's name in its own queue of key events. */
  replicaId: string;
}

/** The public API: validates at the edge, then asks the owning service over RabbitMQ. */
export function createApp(deps: AppDeps) {
  const { config, logger, broker, knex, clock } = deps;
  const keys = createApiKeyRepository(knex);
  const audit = createAuditRepository(knex, logger);
  const retention = createRetention({
    knex,
    logger: logger.child({ component: 'retention' }),
    rules: [auditRetention(config.auditRetentionMs)],
  });
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'gateway' });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => broker.isConnected(),
  });
  const directory = createKeyDirectory({
    listLive: () => keys.listLive(),
    findByHash: (hash) => keys.findByHash(hash),
  });
  const keyEvents = createKeyEventsSubscription({
    broker,
    directory,
    replicaId: deps.replicaId,
    logger,
  });
  const apiKeys = createApiKeyService({
    transact: (work) => outbox.transaction(work),
    keys,
    audit,
    directory,
    clock,
  });
  const rpc = createRpcClient({ broker, appId: 'gateway', timeoutMs: config.rpcTimeoutMs });
  const readJob = createJobReader(rpc);
  const api = new Router({ prefix: '/api/v1' });
  api.use(jsonBody({ limitBytes: config.bodyLimitBytes }));
  api.use(auditTrail({ audit, clock }));
  const inspector = config.managementUrl
    ? withFallback(
        managementInspector({ managementUrl: config.managementUrl, vhost: config.vhost }),
        passiveInspector(broker),
        logger,
      )
    : passiveInspector(broker);
  registerQueueMetrics(deps.registry, inspector, logger);
  for (const routes of [
    platformRoutes(rpc, { audit, clock }),
    apiKeyRoutes({ service: apiKeys, keys, audit }),
    jobRoutes(rpc, readJob),
    schedulerRoutes(rpc),
    platformControlRoutes(rpc, readJob),
    dataRoutes(rpc),
    dlqRoutes(rpc),
    backfillRoutes(rpc),
    webhookRoutes(rpc, { audit, clock }),
    validationRoutes(rpc),
    breakerRoutes(rpc),
    outboxRoutes(rpc, outbox),
    collectionRoutes(rpc, readJob),
    collectorRoutes(rpc),
    logRoutes(rpc),
    monitoringRoutes(rpc, inspector),
  ]) {
    // Their layers are copied into `api`, whose own allowedMethods (mounted by the HTTP server)
    // answers 405/501 for all of them. One per nested router put sixteen more layers that match
    // every path into each request's chain, each with its captures and closure: the router was
    // about a tenth of the gateway's CPU on run-now.
    api.use(routes.routes());
  }
  const transfer = dataTransferRoutes(rpc, { importMaxItemBytes: config.importMaxItemBytes });
  let openApi: object | undefined;
  const docs = docsRoutes(() => (openApi ??= buildOpenApi()));
  const http = createHttpServer({
    logger,
    registry: deps.registry,
    readiness: {
      database: () => checkDb(knex),
      broker: () => broker.check(),
    },
    // The console's static files need no key. CORS answers preflights before the key check; the
    // key check covers every /api/v1 route, whichever router holds it.
    middleware: [
      consoleAssets({ dir: CONSOLE_DIST, prefix: '/ui' }),
      cors(config.corsOrigins),
      authenticate({
        directory,
        perKey: createLeasedLimiter(postgresStore(knex, 'key', config.rateLimitPerMinute, 60)),
        failures: postgresStore(knex, 'authfail', config.authFailuresPerMinute, 60),
        touch: (id, at) => keys.touch(id, at),
        clock,
        logger,
        prefixes: ['/api/v1', '/metrics'],
      }),
    ],
    trustedProxyHops: config.trustedProxyHops,
    // Streaming export/import first: its bodies are not JSON documents for jsonBody to parse.
    routers: [docs, transfer, api],
    port: config.http.port,
    host: config.http.host,
    securityHeaders: true,
  });

  return {
    async start() {
      if (config.adminApiKey && !(await apiKeys.ensureBootstrap(config.adminApiKey)).usable) {
        logger.warn(
          'PSC_ADMIN_API_KEY was revoked through the API and stays revoked; set a new value to get a bootstrap admin key',
        );
      }
      outbox.start();
      // Not awaited: without the broker, keys are checked against PostgreSQL until it is back.
      keyEvents.start();
      const address = await http.start();
      retention.start();
      logger.info({ url: address.url }, 'gateway listening');
      return address;
    },
    /** Every method and path the gateway answers, as its routers hold them. */
    routes: () => http.routes(),
    /** Whether key checks are answered from memory (events flowing) rather than PostgreSQL. */
    keyChecksFromMemory: (): boolean => directory.isLive(),
    async stop() {
      await stopInOrder(
        [
          ['retention', () => retention.stop()],
          ['http', () => http.stop()],
          // Entries of actions already answered, before the database closes.
          ['audit', () => audit.settled()],
          ['key events', () => keyEvents.stop()],
          ['outbox', () => outbox.stop()],
          ['publisher', () => publisher.close()],
          ['rpc client', () => rpc.close()],
        ],
        (step, err) => logger.error({ err, step }, 'stop step failed'),
      );
    },
  };
}
