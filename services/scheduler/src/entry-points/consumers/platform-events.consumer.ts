import { QUEUE_SPECS } from '@psc/contracts';
import type { Clock } from '@psc/core';
import { createConsumer, type Broker, type Consumer } from '@psc/messaging';
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
  isTransient: (err: unknown) => boolean;
  logger: Logger;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUE_SPECS.schedulerPlatformEvents,
    logger: deps.logger,
    isTransient: deps.isTransient,
    async handler(message) {
      const now = deps.clock.now();
      if (message.type === 'platform.deleted') {
        await deps.platforms.markDeleted(message.payload.platformId, message.payload.version, now);
        return;
      }
      await deps.platforms.upsert(message.payload.platform, now);
    },
  });
}
