import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import type { ServiceName } from './topology.ts';

/** The services with a transactional outbox. */
export const OUTBOX_OWNERS = [
  'platform-registry',
  'scheduler',
  'sync-worker',
  'collector',
] as const;
export type OutboxOwner = (typeof OUTBOX_OWNERS)[number] & ServiceName;

/** A message a service's outbox relay could not publish and gave up on, with why. */
export const parkedMessage = z.object({
  seq: z.string(),
  exchange: z.string(),
  routingKey: z.string(),
  type: z.string(),
  messageId: z.string(),
  reason: z.string(),
  attempts: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
  parkedAt: z.iso.datetime(),
});

const request = z.object({ limit: z.number().int().min(1).max(500).default(50) });
const response = z.object({ items: z.array(parkedMessage) });

export const outboxParked = Object.fromEntries(
  OUTBOX_OWNERS.map((service) => [service, defineRpc(service, 'outbox.parked', request, response)]),
) as Record<
  OutboxOwner,
  ReturnType<typeof defineRpc<'outbox.parked', typeof request, typeof response>>
>;
