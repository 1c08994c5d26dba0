import { QUEUE_SPECS } from '@psc/contracts';
import { createConsumer, type Broker, type Consumer } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { SealedPlatform } from '@psc/contracts';
import { createPlatformCache, type PlatformCache } from './platform-cache.ts';

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
function createPlatformEventsConsumer(deps: {
  service: keyof typeof QUEUE_OF;
  broker: Broker;
  cache: PlatformCache;
  workerId: string;
  logger: Logger;
  onDeleted?: (platformId: string) => Promise<void>;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUE_OF[deps.service],
    replicaId: deps.workerId,
    logger: deps.logger,
    async handler(message) {
      if (message.type === 'platform.deleted') {
        deps.cache.invalidate(message.payload.platformId, message.payload.version);
        // What is left of a deleted platform only takes room: not worth parking the event for.
        await deps
          .onDeleted?.(message.payload.platformId)
          .catch((err: unknown) =>
            deps.logger.warn({ err: String(err) }, 'deleted platform’s rows not dropped'),
          );
      } else {
        deps.cache.invalidate(message.payload.platform.id, message.payload.platform.version);
      }
    },
  });
}

/**
 * A worker replica's platforms: the cache its jobs read them from (one registry call per
 * platform per `ttlMs` instead of one per job or fan-out child), and the consumer of the events
 * that drop its entries (start it with the replica's other consumers).
 */
export function createWorkerPlatforms(deps: {
  service: keyof typeof QUEUE_OF;
  broker: Broker;
  /** The registry's `platform.get-with-secrets`. */
  fetch: (id: string) => Promise<SealedPlatform>;
  ttlMs: number;
  workerId: string;
  logger: Logger;
  /** Told of each deleted platform, after the cache dropped it (the fetcher forgets it). */
  onDeleted?: (platformId: string) => Promise<void>;
}): { cache: PlatformCache; events: Consumer } {
  const cache = createPlatformCache({ fetch: deps.fetch, ttlMs: deps.ttlMs });
  return { cache, events: createPlatformEventsConsumer({ ...deps, cache }) };
}
