import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { AppError } from '@psc/core';
import { EXCHANGES, HEADERS, QUEUES } from '@psc/contracts';
import { PublishRefusedError } from './errors.ts';
import type { TraceCarrier } from './trace-carriers.ts';

/**
 * A publish on the delivering channel that resolves on the broker's confirm; a nack rejects with
 * `PublishRefusedError`.
 */
export function confirmPublish(
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.publish(exchange, routingKey, content, options, (err: Error | null | undefined) => {
      if (!err) resolve();
      // amqplib's words for a nack.
      else if (err.message === 'message nacked') {
        reject(new PublishRefusedError(exchange, routingKey));
      } else reject(err);
    });
  });
}

/** `<code>: <message>` of an error, for reasons and logs; nothing but the message of others. */
export function describeError(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Parks a delivery in `<queue>.dead-letter` with why, when and from where (a confirmed copy),
 * then acks the original: a crash between the two leaves a duplicate, never a loss.
 */
export async function parkDelivery(
  ch: ConfirmChannel,
  msg: ConsumeMessage,
  queue: string,
  reason: string,
): Promise<void> {
  const headers = {
    ...msg.properties.headers,
    [HEADERS.deadReason]: reason.slice(0, 1_000),
    [HEADERS.deadQueue]: queue,
    [HEADERS.deadAt]: new Date().toISOString(),
  };
  await confirmPublish(ch, EXCHANGES.deadLetter, queue, msg.content, {
    ...msg.properties,
    headers,
    persistent: true,
  });
  ch.ack(msg);
}

/** Headers without the W3C trace context the bundle travelled in. */
function withoutTrace(headers: Record<string, unknown>): Record<string, unknown> {
  const { traceparent: _parent, tracestate: _state, ...rest } = headers;
  return rest;
}

/**
 * Parks one envelope of a bundle in `<queue>.dead-letter` on its own (a confirmed copy, with why,
 * when and from where), as a message of its own. The bundle is acked once each of its envelopes
 * is applied or parked.
 */
export async function parkEntry(
  ch: ConfirmChannel,
  msg: ConsumeMessage,
  queue: string,
  entry: { json: unknown; messageId?: string | undefined; trace?: TraceCarrier | undefined },
  reason: string,
): Promise<void> {
  // The copy is one envelope: not a bundle, and in that envelope's own trace when it has one.
  const {
    [HEADERS.bundle]: _count,
    [HEADERS.bundleTraces]: _traces,
    ...bundleHeaders
  } = msg.properties.headers ?? {};
  const headers: Record<string, unknown> = entry.trace
    ? { ...withoutTrace(bundleHeaders), ...entry.trace }
    : bundleHeaders;
  const type = (entry.json as { type?: unknown } | null)?.type;
  await confirmPublish(
    ch,
    EXCHANGES.deadLetter,
    queue,
    Buffer.from(JSON.stringify(entry.json ?? null)),
    {
      ...msg.properties,
      ...(entry.messageId !== undefined ? { messageId: entry.messageId } : {}),
      ...(typeof type === 'string' ? { type: type.slice(0, 80) } : {}),
      headers: {
        ...headers,
        [HEADERS.deadReason]: reason.slice(0, 1_000),
        [HEADERS.deadQueue]: queue,
        [HEADERS.deadAt]: new Date().toISOString(),
      },
      persistent: true,
    },
  );
}

/**
 * Sends a delivery to wait in the delay queue of `delayMs` (one of the queue's ladder, see
 * jitter.ts) and come back as `attempt`, then acks the original. `deferrals` counts backoff
 * deferrals in a row; without it the count starts over.
 */
export async function delayDelivery(
  ch: ConfirmChannel,
  msg: ConsumeMessage,
  queue: string,
  delayMs: number,
  attempt: number,
  deferrals?: number,
): Promise<void> {
  const { [HEADERS.deferrals]: _before, ...headers } = msg.properties.headers ?? {};
  headers[HEADERS.attempt] = attempt;
  if (deferrals !== undefined) headers[HEADERS.deferrals] = deferrals;
  await confirmPublish(ch, EXCHANGES.retry, QUEUES.retry(queue, delayMs), msg.content, {
    ...msg.properties,
    headers,
    persistent: true,
  });
  ch.ack(msg);
}

/**
 * Puts a delivery back at the tail of its queue as a new message, then acks the original. A
 * nack with requeue would come back flagged `redelivered`, which is how a consumer tells that
 * the worker holding it died (the job runner's crash-loop count): a delivery we put back
 * ourselves (the database was away, a row lock timed out) must not look like that.
 */
export async function requeueFresh(
  ch: ConfirmChannel,
  msg: ConsumeMessage,
  queue: string,
): Promise<void> {
  await confirmPublish(ch, EXCHANGES.retry, queue, msg.content, {
    ...msg.properties,
    persistent: true,
  });
  ch.ack(msg);
}
