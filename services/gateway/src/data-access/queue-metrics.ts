import { QUEUES } from '@psc/contracts';
import { PSC_METRICS, registerScrapeGauge, type Logger, type Metrics } from '@psc/telemetry';
import type { QueueInspector } from './queue-inspector.ts';

/**
 * `psc_queue_messages`, read from the queue inspector when Prometheus scrapes: ready and (with
 * the management API) unacked messages of each durable psc queue and of its dead-letter queue.
 */
export function registerQueueMetrics(
  registry: Metrics['registry'],
  inspector: QueueInspector,
  logger: Logger,
): void {
  registerScrapeGauge(
    registry,
    PSC_METRICS.queueMessages,
    async () =>
      (await inspector.list())
        .filter((q) => q.exists)
        .flatMap((q) => [
          { labels: { queue: q.name, state: 'ready' }, value: q.ready },
          ...(q.unacked === null
            ? []
            : [{ labels: { queue: q.name, state: 'unacked' }, value: q.unacked }]),
          ...(q.deadLetter === null
            ? []
            : [
                {
                  labels: { queue: QUEUES.deadLetter(q.name), state: 'ready' },
                  value: q.deadLetter,
                },
              ]),
        ]),
    (err) => logger.warn({ err: String(err) }, 'queue depths not read for /metrics'),
  );
}
