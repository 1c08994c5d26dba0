import { QUEUE_SPECS } from '@psc/contracts';
import { createConsumer, type Broker, type Consumer } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { PlatformCache } from './platform-cache.ts';

/** The per-replica queue of each worker service that caches platforms. */
const QUEUE_OF = {
  'sync-worker': QUEUE_SPECS.syncWorkerPlatformEvents,
  collector: QUEUE_SPECS.collectorPlatformEvents,
} as const;

/**
 * Drops cached platforms when they change. Every replica has its own queue (the shared name plus
 * the worker id), so each replica's cache hears every event; it is deleted with the replica's
 * last consumer, since a missed event only costs the cache's TTL.
 */
export function createPlatformEventsConsumer(deps: {
  service: keyof typeof QUEUE_OF;
  broker: Broker;
  cache: PlatformCache;
  workerId: string;
  logger: Logger;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUE_OF[deps.service],
    replicaId: deps.workerId,
    logger: deps.logger,
    handler(message) {
      if (message.type === 'platform.deleted') {
        deps.cache.invalidate(message.payload.platformId, message.payload.version);
      } else {
        deps.cache.invalidate(message.payload.platform.id, message.payload.platform.version);
      }
      return Promise.resolve();
    },
  });
}
