import { randomUUID } from 'node:crypto';
import type { Envelope, MessageDefinition, PayloadOf } from '@psc/contracts';

export interface EnvelopeContext {
  correlationId?: string;
  causationId?: string;
  /** Reuse an id to make a republish recognisable as the same message. */
  id?: string;
  now?: Date;
}

/** Builds and validates an envelope: a publisher never sends what its consumer would refuse. */
export function createEnvelope<M extends MessageDefinition>(
  definition: M,
  payload: PayloadOf<M>,
  ctx: EnvelopeContext = {},
): Envelope<PayloadOf<M>> {
  const id = ctx.id ?? randomUUID();
  const envelope = {
    id,
    type: definition.type,
    version: definition.version,
    occurredAt: (ctx.now ?? new Date()).toISOString(),
    correlationId: ctx.correlationId ?? id,
    ...(ctx.causationId ? { causationId: ctx.causationId } : {}),
    payload,
  };
  return definition.envelope.parse(envelope) as Envelope<PayloadOf<M>>;
}
