import { z } from 'zod';

/**
 * Every message on the wire is an envelope. Trace context travels in AMQP headers, never here.
 */
export const envelopeMeta = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1).optional(),
});
export type EnvelopeMeta = z.infer<typeof envelopeMeta>;

export interface Envelope<P> extends EnvelopeMeta {
  payload: P;
}

/** A message type: its name (also its routing key), version and payload schema. */
export interface MessageDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  readonly version: number;
  readonly payload: S;
  readonly envelope: z.ZodType<Envelope<z.infer<S>>>;
}

export function defineMessage<T extends string, S extends z.ZodType>(
  type: T,
  version: number,
  payload: S,
): MessageDefinition<T, S> {
  const envelope = envelopeMeta.extend({
    type: z.literal(type),
    version: z.literal(version),
    payload,
  }) as unknown as z.ZodType<Envelope<z.infer<S>>>;
  return { type, version, payload, envelope };
}

export type PayloadOf<M extends MessageDefinition> = z.infer<M['payload']>;
