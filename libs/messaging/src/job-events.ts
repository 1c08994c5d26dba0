import { AppError } from '@psc/core';
import { EXCHANGES, type MessageDefinition, type PayloadOf } from '@psc/contracts';
import { createEnvelope, type EnvelopeContext } from './envelope.ts';
import type { Emit } from './outbox.ts';

/** Writes an event for the events exchange, routed by its type, through an outbox's `emit`. */
export function emitEvent<M extends MessageDefinition>(
  emit: Emit,
  definition: M,
  payload: PayloadOf<M>,
  ctx: EnvelopeContext = {},
): void {
  emit({
    exchange: EXCHANGES.events,
    routingKey: definition.type,
    envelope: createEnvelope(definition, payload, ctx),
  });
}

/**
 * What a worker's `job.failed` says about a failed attempt: the error's code as its class and its
 * message (an unexpected error says only `internal error`, so nothing internal leaks), and the
 * outcome: `retrying`, or at the end `dead` (retries exhausted) or `failed` (could never succeed).
 */
export function jobFailure(err: unknown, outcome: 'retrying' | 'dead') {
  const known = err instanceof AppError;
  const retryable = known ? err.retryable : true;
  return {
    error: {
      message: known ? err.message : 'internal error',
      class: known ? err.code : 'internal',
    },
    outcome:
      outcome === 'retrying'
        ? ('retrying' as const)
        : retryable
          ? ('dead' as const)
          : ('failed' as const),
  };
}
