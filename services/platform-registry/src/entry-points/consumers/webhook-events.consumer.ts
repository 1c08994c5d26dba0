import { QUEUE_SPECS } from '@psc/contracts';
import { createConsumer, type Broker, type Consumer } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { WebhookService } from '../../domain/webhook.service.ts';

/** Stores a delivery per subscriber for each event webhooks notify of; sending is the loop's. */
export function createWebhookEventsConsumer(deps: {
  broker: Broker;
  service: WebhookService;
  isTransient: (err: unknown) => boolean;
  logger: Logger;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUE_SPECS.registryWebhookEvents,
    logger: deps.logger,
    isTransient: deps.isTransient,
    async handler(message) {
      await deps.service.fanOut(message);
    },
  });
}
