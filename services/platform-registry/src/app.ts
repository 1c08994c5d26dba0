import type { Knex } from 'knex';
import { stopInOrder, type Clock } from '@psc/core';
import { checkDb, createRetention, isUnavailableError } from '@psc/db';
import { createHttpServer } from '@psc/http';
import {
  baseTopology,
  createOutbox,
  createPublisher,
  consumersUp,
  createRpcServer,
  outboxRpcHandler,
  type Broker,
} from '@psc/messaging';
import {
  PSC_METRICS,
  createConsumerMetrics,
  registerScrapeGauge,
  type Logger,
  type Metrics,
} from '@psc/telemetry';
import type { Config } from './config.ts';
import { createEgressGuard } from '@psc/egress';
import { createWorkerSeal } from '@psc/platform-http';
import { createPlatformProbe, type Connect } from './data-access/platform-probe.ts';
import { createPlatformStore } from './data-access/platform.store.ts';
import { createSecretBox } from './data-access/secret-box.ts';
import { resealCredentials } from './data-access/credential-reseal.ts';
import { createPlatformService } from './domain/platform.service.ts';
import { createWebhookRepository, deliveryRetention } from './data-access/webhook.repository.ts';
import { createWebhookSender } from './data-access/webhook-sender.ts';
import { createWebhookService } from './domain/webhook.service.ts';
import { createWebhookEventsConsumer } from './entry-points/consumers/webhook-events.consumer.ts';
import { platformRpcHandlers } from './entry-points/rpc/platform.rpc.ts';
import { webhookRpcHandlers } from './entry-points/rpc/webhook.rpc.ts';
import { createWebhookDeliveryLoop } from './entry-points/schedules/webhook-delivery.loop.ts';
import { SCHEMA } from '../migrations/index.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  knex: Knex;
  broker: Broker;
  /**
   * Connection the outbox publishes events on; `broker` when omitted. main.ts opens a separate
   * one, as RabbitMQ advises: flow control on a publishing connection must not stall consumers.
   */
  publishBroker?: Broker;
  registry: Metrics['registry'];
  clock: Clock;
  /** Test seams: a stub resolver and a loopback-only connect, so no test leaves the machine. */
  egress?: { resolve?: (hostname: string) => Promise<string[]>; connect?: Connect };
}

export function createApp(deps: AppDeps) {
  const { config, logger, knex, broker } = deps;
  const eventBroker = deps.publishBroker ?? broker;
  const publisher = createPublisher({
    broker: eventBroker,
    topology: baseTopology,
    appId: 'platform-registry',
  });
  const outbox = createOutbox({
    knex,
    schema: SCHEMA,
    publisher,
    logger,
    isBrokerConnected: () => eventBroker.isConnected(),
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
  const egress = createEgressGuard({
    allow: config.egressAllow,
    ...(deps.egress?.resolve ? { resolve: deps.egress.resolve } : {}),
  });
  const probe = createPlatformProbe({
    egress,
    ...(deps.egress?.connect ? { connect: deps.egress.connect } : {}),
  });
  const box = createSecretBox(config.secretKey, config.previousSecretKeys);
  const service = createPlatformService({
    store: createPlatformStore(knex, box, outbox),
    clock: deps.clock,
    egress,
    probe,
  });
  const webhookRepository = createWebhookRepository(knex, box);
  const webhooks = createWebhookService({
    repository: webhookRepository,
    egress,
    clock: deps.clock,
  });
  const webhookEvents = createWebhookEventsConsumer({
    broker,
    service: webhooks,
    isTransient: isUnavailableError,
    logger,
  });
  createConsumerMetrics(deps.registry).watch([webhookEvents]);
  const sender = createWebhookSender({
    egress,
    timeoutMs: config.webhooks.timeoutMs,
    now: () => deps.clock.now(),
    ...(deps.egress?.connect ? { connect: deps.egress.connect } : {}),
  });
  const deliveryLoop = createWebhookDeliveryLoop({
    repository: webhookRepository,
    sender,
    clock: deps.clock,
    policy: config.webhooks,
    logger,
  });
  const rpc = createRpcServer({
    broker,
    service: 'platform-registry',
    handlers: [
      ...platformRpcHandlers(service, logger, createWorkerSeal(config.workerSecretKey)),
      ...webhookRpcHandlers(webhooks),
      outboxRpcHandler('platform-registry', outbox),
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
      consumers: () => consumersUp([webhookEvents, rpc]),
    },
    port: config.http.port,
    host: config.http.host,
  });

  const retention = createRetention({
    knex,
    logger: logger.child({ component: 'retention' }),
    rules: [deliveryRetention(config.webhooks.retentionDays * 86_400_000)],
    now: () => deps.clock.now(),
  });

  /**
   * After a rotation of PSC_SECRET_KEY: what the previous keys sealed, sealed again under it, in
   * the background (reads open it meanwhile). Every replica does it as it starts, so the last
   * one started with the new key also takes what older replicas stored under the old one.
   */
  let resealing: Promise<void> = Promise.resolve();
  async function resealStale(): Promise<void> {
    try {
      const { resealed, changed, unopenable } = await resealCredentials(knex, box);
      if (unopenable.length > 0) {
        logger.warn(
          { count: unopenable.length, rows: unopenable.slice(0, 20) },
          'stored credentials that neither PSC_SECRET_KEY nor PSC_SECRET_KEY_PREVIOUS opens: what needs them fails until they are stored again',
        );
      }
      logger.info(
        { resealed, changed },
        unopenable.length === 0 && changed === 0
          ? 'every stored credential is sealed under PSC_SECRET_KEY: PSC_SECRET_KEY_PREVIOUS can be removed once every registry replica runs with this key'
          : 'stored credentials sealed again under PSC_SECRET_KEY; some are not (see above, or changed meanwhile: the next start checks them again)',
      );
    } catch (err) {
      logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'stored credentials not sealed again under PSC_SECRET_KEY; the next start tries again',
      );
    }
  }

  return {
    async start() {
      // Listening first keeps /health answering; /ready says no until the consumers are up.
      const address = await http.start();
      outbox.start();
      await webhookEvents.start();
      deliveryLoop.start();
      await rpc.start();
      retention.start();
      http.markReady();
      if (box.rotating) resealing = resealStale();
      logger.info({ url: address.url }, 'platform-registry started');
      return address;
    },
    async stop() {
      await stopInOrder(
        [
          ['retention', () => retention.stop()],
          ['credential re-seal', () => resealing],
          ['rpc server', () => rpc.stop()],
          ['webhook events', () => webhookEvents.stop()],
          ['webhook deliveries', () => deliveryLoop.stop()],
          ['outbox', () => outbox.stop()],
          ['publisher', () => publisher.close()],
          ['http', () => http.stop()],
          ['probe', () => probe.close()],
          ['webhook sender', () => sender.close()],
        ],
        (step, err) => logger.error({ err, step }, 'stop step failed'),
      );
    },
  };
}
