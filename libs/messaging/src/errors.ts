import { AppError } from '@psc/core';

/** A mandatory publish that no queue took. */
export class UnroutableError extends AppError {
  override name = 'UnroutableError';
  constructor(exchange: string, routingKey: string) {
    super('unroutable', 503, `no queue is bound for ${exchange} / ${routingKey}`, {
      retryable: true,
    });
  }
}

/**
 * A publish RabbitMQ refused (its confirm was a nack): a queue it routes to is full with
 * `overflow: reject-publish`, or the broker could not take it. The broker's state, not the
 * message's: the same message goes through once the broker takes messages again.
 */
export class PublishRefusedError extends AppError {
  override name = 'PublishRefusedError';
  constructor(exchange: string, routingKey: string) {
    super(
      'publish_refused',
      503,
      `RabbitMQ refused the message for ${exchange} / ${routingKey} (nack: a queue it goes to is full or refuses publishes)`,
      { retryable: true },
    );
  }
}

/**
 * Whether a failed publish is RabbitMQ pushing back — a nack, or no confirm within the publish
 * timeout (a connection the broker blocked) — rather than anything wrong with the message.
 */
export function isBrokerPushback(err: unknown): boolean {
  return err instanceof PublishRefusedError || (err instanceof Error && err.message === 'timeout');
}

export class MessageTooLargeError extends AppError {
  override name = 'MessageTooLargeError';
  constructor(size: number, limit: number) {
    super('message_too_large', 413, `message of ${size} bytes exceeds the ${limit}-byte cap`, {
      retryable: false,
    });
  }
}

/** A message that can never be processed: dead-lettered at once with this reason. */
export class PoisonMessageError extends AppError {
  override name = 'PoisonMessageError';
  constructor(message: string, details?: unknown) {
    super('poison_message', 422, message, { details, retryable: false });
  }
}

/**
 * A message of a type its queue took before an upgrade and no longer does (the binding that
 * brought it was retired): dropped with a log line, not parked as poison, since nothing is wrong
 * with it and nobody needs it.
 */
export class RetiredMessageError extends AppError {
  override name = 'RetiredMessageError';
  constructor(type: string) {
    super('retired_message', 422, `message type ${type} is no longer taken by this queue`, {
      retryable: false,
    });
  }
}

/**
 * Thrown by a handler to ask for a later redelivery that does not count as an attempt
 * (e.g. the platform's breaker is open). The delivery comes back after `delayMs` at the
 * soonest, spread over up to twice that; with `by`, at the latest (its job holds a booked
 * turn at the platform then, and waits the rest in its slot). With `backoff` (nothing says
 * when the cause ends), `delayMs` doubles with each deferral of the delivery in a row.
 */
export class DeferError extends AppError {
  override name = 'DeferError';
  readonly delayMs: number;
  readonly by: boolean;
  readonly backoff: boolean;
  constructor(message: string, delayMs: number, options: { by?: boolean; backoff?: boolean } = {}) {
    super('deferred', 503, message, { retryable: true });
    this.delayMs = delayMs;
    this.by = options.by ?? false;
    this.backoff = options.backoff ?? false;
  }
}
