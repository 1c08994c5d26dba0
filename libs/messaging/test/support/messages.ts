import {
  defineMessage,
  defineRpc,
  EXCHANGES,
  type Envelope,
  type MessageDefinition,
} from '@psc/contracts';
import {
  baseTopology,
  createEnvelope,
  mergeTopologies,
  workQueue,
  type Topology,
  type WorkQueueSpec,
} from '@psc/messaging';
import { z } from './zod.ts';

/** Test-only contracts: nothing in psc publishes or consumes these. */
export const ping = defineMessage('conformance.pinged', 1, z.object({ n: z.number().int() }));
export const pong = defineMessage('conformance.ponged', 1, z.object({ n: z.number().int() }));

export const echo = defineRpc(
  'platform-registry',
  'conformance.echo',
  z.object({ text: z.string().min(1) }),
  z.object({ text: z.string(), length: z.number().int() }),
);

/** What an older caller might still send: the same operation with a looser request schema. */
export const looseEcho = defineRpc(
  'platform-registry',
  'conformance.echo',
  z.object({ text: z.unknown() }),
  z.unknown(),
);

export const unknownOperation = defineRpc(
  'platform-registry',
  'conformance.not-served',
  z.object({}),
  z.unknown(),
);

export const WORK_QUEUE = 'conformance.work';

/** Short tiers keep retry tests fast; consumer and workQueue must use the same ones. */
export const TEST_TIERS_MS = [200, 500, 1_000] as const;

export function pingEnvelope(n: number, ctx: { correlationId?: string } = {}) {
  return createEnvelope(ping, { n }, ctx);
}

/** The `n` of a ping a handler received. */
export function pingNumber(envelope: Envelope<unknown>): number {
  return ping.payload.parse(envelope.payload).n;
}

/** A work queue (with its dead-letter and retry queues) bound to `exchange` for `accepts`. */
export function workTopology(
  options: Partial<WorkQueueSpec> & { exchange?: string; accepts?: MessageDefinition[] } = {},
): Topology {
  const exchange = options.exchange ?? EXCHANGES.events;
  const accepts = options.accepts ?? [ping];
  return mergeTopologies(
    baseTopology,
    workQueue({
      name: options.name ?? WORK_QUEUE,
      bindings: accepts.map((m) => ({ exchange, routingKey: m.type })),
      retryTiersMs: options.retryTiersMs ?? TEST_TIERS_MS,
      ...(options.priority ? { priority: true } : {}),
    }),
  );
}
