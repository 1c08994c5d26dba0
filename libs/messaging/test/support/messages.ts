import {
  defineMessage,
  defineRpc,
  EXCHANGES,
  type Envelope,
  type MessageDefinition,
  type QueueSpec,
} from '@psc/contracts';
import { createEnvelope, queueTopology, type Topology } from '@psc/messaging';
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

/**
 * A test work queue as the topology table would describe it (retries, a dead-letter queue),
 * bound to `exchange` for `accepts`, and what a publisher declares for it.
 */
export function workQueue<const A extends readonly MessageDefinition[] = readonly [typeof ping]>(
  options: { name?: string; exchange?: string; accepts?: A; priority?: boolean } = {},
): { spec: QueueSpec & { accepts: A }; topology: Topology } {
  const exchange = options.exchange ?? EXCHANGES.events;
  const accepts = (options.accepts ?? [ping]) as A;
  const spec = {
    name: options.name ?? WORK_QUEUE,
    consumer: 'platform-registry',
    declaredBy: ['platform-registry'],
    purpose: 'conformance tests',
    bindings: accepts.map((m) => ({ exchange, routingKey: m.type })),
    accepts,
    durable: true,
    failures: 'retries',
    ...(options.priority ? { priority: true } : {}),
  } satisfies QueueSpec;
  return { spec, topology: queueTopology(spec, { retryTiersMs: TEST_TIERS_MS }) };
}
