import { QUEUE_SPECS } from '@psc/contracts';
import type { JobSlots } from '@psc/job-runner';
import { createConsumer, type Broker, type Consumer } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { CollectChildren } from '../../domain/collect-children.ts';

/** Stage 2 of fan-out collections: each child with its own retries; given up, it counts failed. */
export function createCollectChildrenConsumer(deps: {
  broker: Broker;
  children: CollectChildren;
  logger: Logger;
  /** Children run at once, deliveries held (running or next in line), and for how long. */
  slots: JobSlots;
  maxAttempts: number;
  retryTiersMs: readonly number[];
  isTransient: (err: unknown) => boolean;
  /** Ids (`<parent job>/<index>`) of the children being collected now (heartbeats). */
  active: Set<string>;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUE_SPECS.collectorChildren,
    logger: deps.logger,
    prefetch: deps.slots.prefetch,
    concurrency: deps.slots.concurrency,
    handBackAfterMs: deps.slots.handBackAfterMs,
    maxAttempts: deps.maxAttempts,
    retryTiersMs: deps.retryTiersMs,
    isTransient: deps.isTransient,
    givenUpTo: 'hook',
    async handler({ payload: child, correlationId }) {
      const id = `${child.parentJobId}/${child.index}`;
      deps.active.add(id);
      try {
        await deps.children.run(child, correlationId);
      } finally {
        deps.active.delete(id);
      }
    },
    async onFailure({ payload: child, correlationId }, err, decision) {
      if (decision.kind === 'give-up') await deps.children.givenUp(child, err, correlationId);
    },
  });
}
