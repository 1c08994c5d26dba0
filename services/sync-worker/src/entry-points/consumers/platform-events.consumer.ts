import {
  EXCHANGES,
  QUEUES,
  platformDeleted,
  platformUpdated,
  type PayloadOf,
} from '@psc/contracts';
import {
  baseTopology,
  createConsumer,
  mergeTopologies,
  type Broker,
  type Consumer,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { PlatformCache } from '../../data-access/platform.cache.ts';

/**
 * Drops cached platforms when they change. Every replica has its own queue (the shared name plus
 * the worker id), so each replica's cache hears every event; it is deleted with the replica's
 * last consumer, since a missed event only costs the cache's TTL. Poison goes to the shared
 * `sync-worker.platform-events.dead-letter` queue.
 */
export function createPlatformEventsConsumer(deps: {
  broker: Broker;
  cache: PlatformCache;
  workerId: string;
  logger: Logger;
}): Consumer {
  const queue = `${QUEUES.syncWorkerPlatformEvents}.${deps.workerId}`;
  const accepts = [platformUpdated, platformDeleted];
  return createConsumer({
    broker: deps.broker,
    queue,
    topology: mergeTopologies(baseTopology, {
      exchanges: [{ name: EXCHANGES.deadLetter, type: 'direct' }],
      queues: [
        {
          name: queue,
          options: { durable: false, autoDelete: true },
          bindings: accepts.map((m) => ({ exchange: EXCHANGES.events, routingKey: m.type })),
        },
        {
          name: QUEUES.deadLetter(QUEUES.syncWorkerPlatformEvents),
          options: { durable: true },
          bindings: [{ exchange: EXCHANGES.deadLetter, routingKey: queue }],
        },
      ],
    }),
    accepts,
    logger: deps.logger,
    prefetch: 20,
    retryTiersMs: [],
    maxAttempts: 1,
    handler(envelope) {
      if (envelope.type === platformDeleted.type) {
        const p = envelope.payload as PayloadOf<typeof platformDeleted>;
        deps.cache.invalidate(p.platformId, p.version);
      } else {
        const p = envelope.payload as PayloadOf<typeof platformUpdated>;
        deps.cache.invalidate(p.platform.id, p.platform.version);
      }
      return Promise.resolve();
    },
  });
}
