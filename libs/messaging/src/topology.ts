import type { ConfirmChannel, Options } from 'amqplib';
import { delayLadder } from './jitter.ts';
import {
  EXCHANGES,
  EXCHANGE_SPECS,
  QUEUES,
  QUEUE_MAX_PRIORITY,
  QUEUE_SPECS,
  RETRY_TIERS_MS,
  type QueueSpec,
  type ServiceName,
} from '@psc/contracts';

/**
 * What a channel declares, in AMQP terms. Built from the topology table in `@psc/contracts`
 * and asserted in amqp-connection-manager's `setup`, so it is declared again on every reconnect.
 */
export interface Topology {
  exchanges: {
    name: string;
    type: 'topic' | 'direct' | 'fanout';
    options?: Options.AssertExchange;
    /** Declared only when missing: see {@link assertTopology}. */
    shared?: boolean;
  }[];
  queues: {
    name: string;
    options: Options.AssertQueue;
    bindings: { exchange: string; routingKey: string }[];
    /** Bindings of an earlier version, removed (a missing one is no error). */
    unbind?: { exchange: string; routingKey: string }[];
    /** Declared (and bound) only when missing: see {@link assertTopology}. */
    shared?: boolean;
  }[];
}

/**
 * A channel for passive declares, which the broker closes when the thing is missing (so its
 * `error` event must have a listener: see queue-check.ts throwawayChannel).
 */
export interface ProbeChannel {
  on(event: 'error', listener: () => void): unknown;
  checkExchange(name: string): Promise<unknown>;
  checkQueue(name: string): Promise<unknown>;
  close(): Promise<void>;
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

/**
 * Declares `topology` on `channel`. What every service shares (the exchanges, the queue of
 * unrouted events) is first looked for with passive declares on throwaway channels from `probe`
 * and declared only when missing: a service's own broker user may not configure those (so it
 * cannot delete them); the provisioning step made them (`npm run broker-users`). Under one
 * shared login, as in tests or a plain `npm start`, the first service declares them.
 */
export async function assertTopology(
  channel: ConfirmChannel,
  topology: Topology,
  probe: () => Promise<ProbeChannel>,
): Promise<void> {
  const shared = sharedLookup(probe);
  try {
    for (const e of topology.exchanges) {
      if (e.shared && (await shared.exists('exchange', e.name))) continue;
      await channel.assertExchange(e.name, e.type, { durable: true, ...e.options });
    }
    for (const q of topology.queues) {
      if (q.shared && (await shared.exists('queue', q.name))) continue;
      await channel.assertQueue(q.name, q.options);
      for (const b of q.bindings) await channel.bindQueue(q.name, b.exchange, b.routingKey);
      for (const b of q.unbind ?? []) await channel.unbindQueue(q.name, b.exchange, b.routingKey);
    }
  } finally {
    await shared.close();
  }
}

/** Passive declares on one throwaway channel, opened again after a miss (which closes it). */
function sharedLookup(probe: () => Promise<ProbeChannel>) {
  let open: ProbeChannel | undefined;
  return {
    async exists(kind: 'exchange' | 'queue', name: string): Promise<boolean> {
      open ??= await probe();
      try {
        await (kind === 'exchange' ? open.checkExchange(name) : open.checkQueue(name));
        return true;
      } catch {
        open = undefined;
        return false;
      }
    },
    async close(): Promise<void> {
      await open?.close().catch(() => undefined);
    },
  };
}

/**
 * Every exchange, and the bounded queue that keeps events nobody subscribes to: publishes are
 * mandatory, so an event without a subscriber is kept for inspection instead of failing.
 */
export const baseTopology: Topology = {
  exchanges: EXCHANGE_SPECS.map((e) => ({
    name: e.name,
    type: e.type,
    ...(e.alternateExchange ? { options: { alternateExchange: e.alternateExchange } } : {}),
    shared: true,
  })),
  queues: [
    {
      name: QUEUE_SPECS.unroutedEvents.name,
      options: { durable: true, maxLength: QUEUE_SPECS.unroutedEvents.maxLength },
      bindings: [...QUEUE_SPECS.unroutedEvents.bindings],
      shared: true,
    },
  ],
};

export interface QueueOptions {
  /** The retry tiers of a queue with retries (its consumer's); publishers declare none. */
  retryTiersMs?: readonly number[];
  /** Names a per-replica queue: `<spec name>.<replicaId>`. */
  replicaId?: string;
}

/** The name a queue spec has for this process. */
export function queueName(spec: QueueSpec, replicaId?: string): string {
  if (!spec.perReplica) return spec.name;
  if (!replicaId) throw new Error(`queue ${spec.name} is per replica: give a replica id`);
  return `${spec.name}.${replicaId}`;
}

/**
 * A queue of the table with what its failure policy needs: a dead-letter queue (bound to
 * `psc.dead-letter` by the source queue's name) for `retries` and `park`, a binding from
 * `psc.retry` by its own name (a delivery put back at its tail: delivery.ts), and for `retries`
 * one delay queue per step of each retry tier (see jitter.ts). A delay queue is bound to
 * `psc.retry` by its name too, has a queue-level TTL (no per-message head-of-line blocking) and
 * expires back into the queue through `psc.retry`. Never through the default exchange: a login
 * that may publish there reaches every queue by name.
 */
export function queueTopology(spec: QueueSpec, options: QueueOptions = {}): Topology {
  const name = queueName(spec, options.replicaId);
  const deadLetters = spec.failures !== 'none';
  // Per-replica queues share one dead-letter queue, named after the spec.
  const dlq = QUEUES.deadLetter(spec.name);
  const main: Topology['queues'][number] = {
    name,
    options: {
      durable: spec.durable,
      ...(spec.autoDelete ? { autoDelete: true } : {}),
      ...(spec.priority ? { maxPriority: QUEUE_MAX_PRIORITY } : {}),
      ...(spec.maxLength !== undefined ? { maxLength: spec.maxLength } : {}),
      ...(deadLetters
        ? { deadLetterExchange: EXCHANGES.deadLetter, deadLetterRoutingKey: name }
        : {}),
    },
    bindings: [
      ...spec.bindings,
      ...(deadLetters ? [{ exchange: EXCHANGES.retry, routingKey: name }] : []),
    ],
    ...(spec.retiredBindings?.length ? { unbind: [...spec.retiredBindings] } : {}),
    ...(spec.shared ? { shared: true } : {}),
  };
  const queues = [main];
  if (deadLetters) {
    queues.push({
      name: dlq,
      options: { durable: true },
      bindings: [{ exchange: EXCHANGES.deadLetter, routingKey: name }],
    });
  }
  if (spec.failures === 'retries') {
    for (const delayMs of delayLadder(options.retryTiersMs ?? [])) {
      const delayQueue = QUEUES.retry(name, delayMs);
      queues.push({
        name: delayQueue,
        options: {
          durable: true,
          messageTtl: delayMs,
          deadLetterExchange: EXCHANGES.retry,
          deadLetterRoutingKey: name,
        },
        bindings: [{ exchange: EXCHANGES.retry, routingKey: delayQueue }],
      });
    }
  }
  return mergeTopologies(baseTopology, { exchanges: [], queues });
}

/**
 * What a service declares for publishing: the exchanges, and the queues of the table it is
 * listed as declaring but does not consume (a job queue the scheduler must never find missing).
 * Delay queues are left to each queue's consumer, which alone knows its delays.
 */
export function publisherTopology(service: ServiceName): Topology {
  const queues = Object.values(QUEUE_SPECS as Record<string, QueueSpec>).filter(
    (q) => q.declaredBy.includes(service) && q.consumer !== service && !q.perReplica,
  );
  return mergeTopologies(baseTopology, ...queues.map((q) => queueTopology(q)));
}

/** Retry delays for a consumer: `RETRY_TIERS_MS` unless configured. */
export const defaultRetryTiers: readonly number[] = RETRY_TIERS_MS;
