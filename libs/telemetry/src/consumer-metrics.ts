import type { Registry } from 'prom-client';
import { PSC_METRICS, registerCatalogMetric } from './metric-catalog.ts';

/** A consumer whose failures are counted: its queue as the topology table names it, its events. */
interface WatchedConsumer {
  readonly family: string;
  on(event: 'held' | 'dead-lettered', listener: () => void): unknown;
}

/**
 * `psc_messages_held_total` and `psc_messages_dead_lettered_total` of a service's consumers:
 * a database that keeps failing, and poison or messages given up, seen per queue without
 * reading logs.
 */
export function createConsumerMetrics(registry: Registry) {
  const held = registerCatalogMetric(registry, PSC_METRICS.messagesHeld);
  const deadLettered = registerCatalogMetric(registry, PSC_METRICS.messagesDeadLettered);
  return {
    /** Counts what each consumer holds and parks, from 0 at start-up. */
    watch(consumers: readonly WatchedConsumer[]): void {
      for (const consumer of consumers) {
        const labels = { queue: consumer.family };
        held.inc(labels, 0);
        deadLettered.inc(labels, 0);
        consumer.on('held', () => held.inc(labels));
        consumer.on('dead-lettered', () => deadLettered.inc(labels));
      }
    },
  };
}
