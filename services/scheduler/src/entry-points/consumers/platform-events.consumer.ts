import {
  EXCHANGES,
  QUEUES,
  platformDeleted,
  platformRegistered,
  platformUpdated,
  type PayloadOf,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import {
  baseTopology,
  createConsumer,
  mergeTopologies,
  workQueue,
  type Broker,
  type Consumer,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { PlatformRepository } from '../../data-access/platform.repository.ts';

/**
 * Keeps the scheduler's platform projection. Versions make it idempotent and order-proof: an
 * older or repeated event changes nothing, and a deletion is final.
 */
export function createPlatformEventsConsumer(deps: {
  broker: Broker;
  platforms: PlatformRepository;
  clock: Clock;
  logger: Logger;
}): Consumer {
  const queue = QUEUES.schedulerPlatformEvents;
  const accepts = [platformRegistered, platformUpdated, platformDeleted];
  return createConsumer({
    broker: deps.broker,
    queue,
    topology: mergeTopologies(
      baseTopology,
      workQueue({
        name: queue,
        bindings: accepts.map((m) => ({ exchange: EXCHANGES.events, routingKey: m.type })),
      }),
    ),
    accepts,
    logger: deps.logger,
    prefetch: 20,
    async handler(envelope) {
      const now = deps.clock.now();
      if (envelope.type === platformDeleted.type) {
        const p = envelope.payload as PayloadOf<typeof platformDeleted>;
        await deps.platforms.markDeleted(p.platformId, p.version, now);
        return;
      }
      const p = envelope.payload as PayloadOf<typeof platformRegistered>;
      await deps.platforms.upsert(p.platform, now);
    },
  });
}
