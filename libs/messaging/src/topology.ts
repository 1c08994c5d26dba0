import type { ConfirmChannel, Options } from 'amqplib';
import { EXCHANGES, MAX_PRIORITY, QUEUES, RETRY_TIERS_MS } from '@psc/contracts';

/** Topology as data: what a service declares, re-applied on every reconnect. */
export interface Topology {
  exchanges: {
    name: string;
    type: 'topic' | 'direct' | 'fanout';
    options?: Options.AssertExchange;
  }[];
  queues: {
    name: string;
    options: Options.AssertQueue;
    bindings: { exchange: string; routingKey: string }[];
  }[];
}

export function mergeTopologies(...parts: Topology[]): Topology {
  const exchanges = new Map<string, Topology['exchanges'][number]>();
  const queues = new Map<string, Topology['queues'][number]>();
  for (const part of parts) {
    for (const e of part.exchanges) exchanges.set(e.name, e);
    for (const q of part.queues) queues.set(q.name, q);
  }
  return { exchanges: [...exchanges.values()], queues: [...queues.values()] };
}

export async function assertTopology(channel: ConfirmChannel, topology: Topology): Promise<void> {
  for (const e of topology.exchanges) {
    await channel.assertExchange(e.name, e.type, { durable: true, ...e.options });
  }
  for (const q of topology.queues) {
    await channel.assertQueue(q.name, q.options);
    for (const b of q.bindings) await channel.bindQueue(q.name, b.exchange, b.routingKey);
  }
}

/**
 * The exchanges every service may publish to. Events nobody subscribes to are not an error
 * (publishes are mandatory), so the events exchange hands them to an alternate exchange whose
 * bounded queue keeps the latest ones for inspection instead of dropping them silently.
 */
export const baseTopology: Topology = {
  exchanges: [
    { name: EXCHANGES.unrouted, type: 'fanout' },
    { name: EXCHANGES.events, type: 'topic', options: { alternateExchange: EXCHANGES.unrouted } },
    { name: EXCHANGES.jobs, type: 'direct' },
    { name: EXCHANGES.rpc, type: 'direct' },
    { name: EXCHANGES.deadLetter, type: 'direct' },
  ],
  queues: [
    {
      name: QUEUES.unroutedEvents,
      options: { durable: true, maxLength: 10_000 },
      bindings: [{ exchange: EXCHANGES.unrouted, routingKey: '' }],
    },
  ],
};

export interface WorkQueueSpec {
  name: string;
  bindings: { exchange: string; routingKey: string }[];
  /** Job queues are priority queues; priority needs a classic queue on RabbitMQ 3.10. */
  priority?: boolean;
  /** Delay tiers for retries; defaults to RETRY_TIERS_MS. */
  retryTiersMs?: readonly number[];
  /**
   * Declare the delay queues (default true). Publishers leave them to the consumer, which alone
   * knows its tiers: a queue re-declared with another TTL fails with PRECONDITION_FAILED.
   */
  retryQueues?: boolean;
}

/**
 * A durable work queue with its dead-letter queue and one delay queue per retry tier. A delay
 * queue has a queue-level TTL (no per-message TTL head-of-line blocking) and dead-letters back
 * into the work queue through the default exchange.
 */
export function workQueue(spec: WorkQueueSpec): Topology {
  const tiers = spec.retryTiersMs ?? RETRY_TIERS_MS;
  const dlq = QUEUES.deadLetter(spec.name);
  return {
    exchanges: [{ name: EXCHANGES.deadLetter, type: 'direct' }],
    queues: [
      {
        name: spec.name,
        options: {
          durable: true,
          deadLetterExchange: EXCHANGES.deadLetter,
          deadLetterRoutingKey: spec.name,
          ...(spec.priority ? { maxPriority: MAX_PRIORITY + 1 } : {}),
        },
        bindings: spec.bindings,
      },
      {
        name: dlq,
        options: { durable: true },
        bindings: [{ exchange: EXCHANGES.deadLetter, routingKey: spec.name }],
      },
      ...(spec.retryQueues === false ? [] : tiers).map((ms, i) => ({
        name: QUEUES.retry(spec.name, i),
        options: {
          durable: true,
          messageTtl: ms,
          deadLetterExchange: '',
          deadLetterRoutingKey: spec.name,
        },
        bindings: [],
      })),
    ],
  };
}

/**
 * Both job queues. The scheduler declares them too, so a job published before any worker ever
 * started is queued rather than unroutable. The sync queue's delay queues are declared by the
 * sync-worker alone (`syncJobQueueWithRetries`), whose retry tiers are configurable.
 */
export const syncJobQueue = workQueue({
  name: QUEUES.syncJobs,
  priority: true,
  retryQueues: false,
  bindings: [
    { exchange: EXCHANGES.jobs, routingKey: 'sync' },
    { exchange: EXCHANGES.jobs, routingKey: 'validate' },
  ],
});
export const collectJobQueue = workQueue({
  name: QUEUES.collectorJobs,
  priority: true,
  bindings: [{ exchange: EXCHANGES.jobs, routingKey: 'collect' }],
});

/** The sync job queue with its delay queues, for the consumer that owns the tiers. */
export function syncJobQueueWithRetries(retryTiersMs: readonly number[]): Topology {
  return workQueue({
    name: QUEUES.syncJobs,
    priority: true,
    retryTiersMs,
    bindings: [
      { exchange: EXCHANGES.jobs, routingKey: 'sync' },
      { exchange: EXCHANGES.jobs, routingKey: 'validate' },
    ],
  });
}
