import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { AppError } from '@psc/core';
import { EXCHANGES, HEADERS, QUEUES } from '@psc/contracts';

/** A publish on the delivering channel that resolves on the broker's confirm. */
export function confirmPublish(
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.publish(exchange, routingKey, content, options, (err) =>
      err ? reject(err as Error) : resolve(),
    );
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

/** The delay queue a retry waits in: the shortest delay ≥ `delayMs`, else the longest. */
export function delayTier(tiers: readonly number[], delayMs: number): number {
  const sorted = [...tiers].sort((a, b) => a - b);
  return sorted.find((t) => t >= delayMs) ?? sorted.at(-1) ?? delayMs;
}

/**
 * Sends a delivery to wait `delayMs` (rounded up to a delay queue of `tiers`) and come back as
 * `attempt`, then acks the original.
 */
export async function delayDelivery(
  ch: ConfirmChannel,
  msg: ConsumeMessage,
  queue: string,
  tiers: readonly number[],
  delayMs: number,
  attempt: number,
): Promise<number> {
  const tier = delayTier(tiers, delayMs);
  await confirmPublish(ch, '', QUEUES.retry(queue, tier), msg.content, {
    ...msg.properties,
    headers: { ...msg.properties.headers, [HEADERS.attempt]: attempt },
    persistent: true,
  });
  ch.ack(msg);
  return tier;
}
