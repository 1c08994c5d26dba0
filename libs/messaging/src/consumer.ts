import { EventEmitter } from 'node:events';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { AppError, delay } from '@psc/core';
import { HEADERS, type QueueSpec } from '@psc/contracts';
import type { Broker } from './broker.ts';
import { createConsumeLoop } from './consume-loop.ts';
import { delayDelivery, describeError, parkDelivery, requeueFresh } from './delivery.ts';
import { DeferError, PublishRefusedError, RetiredMessageError } from './errors.ts';
import { createHold } from './hold.ts';
import {
  backoffDelay,
  deferredByDelay,
  deferredDelay,
  delayLadder,
  jitteredDelay,
} from './jitter.ts';
import { parseDelivery, retiredTypes, type MessageOf } from './message.ts';
import { defaultRetryTiers, queueName, queueTopology } from './topology.ts';

export interface HandlerContext {
  attempt: number;
  maxAttempts: number;
  redelivered: boolean;
  headers: Record<string, unknown>;
  priority: number | undefined;
  logger: Logger;
  /** When the delivery arrived (`performance.now()`), before it waited for a free slot. */
  receivedAt: number;
}

/**
 * What the consumer does with a failed delivery: `retry` it as attempt `attempt` after
 * `delayMs`; `defer` it (same attempt: nothing was tried); or `give-up` (retries exhausted, or
 * an error that can never succeed: `retryable` false).
 */
export type FailureDecision =
  | { kind: 'retry'; attempt: number; delayMs: number; nextAttemptAt: Date }
  | {
      kind: 'defer';
      delayMs: number;
      nextAttemptAt: Date;
      /** Backoff deferrals in a row, this one included; absent for others (the count restarts). */
      deferrals?: number;
    }
  | { kind: 'give-up'; retryable: boolean };

export interface ConsumerOptions<Q extends QueueSpec> {
  broker: Broker;
  /** The queue's entry in the topology table: its declarations and the types it accepts. */
  queue: Q;
  /** For a per-replica queue. */
  replicaId?: string;
  handler: (message: MessageOf<Q['accepts'][number]>, ctx: HandlerContext) => Promise<void>;
  logger: Logger;
  /** Deliveries held at once (default: the queue's). */
  prefetch?: number;
  /** Deliveries handled at once, at most `prefetch` (default: the queue's, else `prefetch`). */
  concurrency?: number;
  /**
   * A delivery held next in line that has waited this long for a slot goes back to the queue for
   * any replica (see consume-loop.ts `handBack`). Unset: it waits for a slot here.
   */
  handBackAfterMs?: number;
  /** Total tries including the first (default 4: one try and three retries). */
  maxAttempts?: number;
  retryTiersMs?: readonly number[];
  /**
   * Errors of our own infrastructure (the database is away): the delivery is held — requeued
   * after a growing pause — without counting as an attempt and never dead-lettered. A publish
   * RabbitMQ refused (`PublishRefusedError`, from the handler or `onFailure`) is held the same
   * way, whatever this says.
   */
  isTransient?: (err: unknown) => boolean;
  /**
   * Called before a failed delivery is retried, deferred or given up, so the owner can record
   * it (a `job.failed` event). If it throws, the delivery is requeued untouched (held, when the
   * error is one of our infrastructure's).
   */
  onFailure?: (
    message: MessageOf<Q['accepts'][number]>,
    error: unknown,
    decision: FailureDecision,
    ctx: HandlerContext,
  ) => Promise<void>;
  /**
   * Who keeps a delivery the consumer gives up on: the dead-letter queue (default), or the
   * `onFailure` hook alone (the job ledger keeps dead jobs), and the delivery is just acked.
   */
  givenUpTo?: 'dead-letter-queue' | 'hook';
  /**
   * Told of a delivery whose channel closed while it was being handled (the connection dropped,
   * or the broker closed the channel): the broker delivers it again, marked redelivered, though
   * this process did not die holding it.
   */
  onDeliveryLost?: (message: MessageOf<Q['accepts'][number]>) => void;
  /** Clock for `nextAttemptAt`. */
  now?: () => Date;
  /** Jitter's randomness (tests make it predictable). */
  random?: () => number;
}

/** Lifecycle events, so tests and metrics can await outcomes. */
export interface ConsumerEvent {
  messageId: string | undefined;
  type: string | undefined;
  attempt: number;
  reason?: string;
}

export interface Consumer extends EventEmitter {
  start: () => Promise<void>;
  /** Stops taking messages, waits for in-flight ones to finish and be acked, closes the channel. */
  stop: () => Promise<void>;
  inFlight: () => number;
  /** Whether it is consuming now (false while its channel is being reopened): for `/ready`. */
  isConsuming: () => boolean;
  queue: string;
  /** The queue's name in the topology table: a per-replica queue's without the replica id. */
  family: string;
}

/** Backoff deferrals in a row so far, from the delivery's header (0 when absent or unreadable). */
function deferralsOf(headers: HandlerContext['headers']): number {
  const n = Number(headers[HEADERS.deferrals] ?? 0);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1_000) : 0;
}

/**
 * Consumes one queue of the topology table with bounded failure: poison is parked at once with
 * its reason; a failure is retried through the delay queues up to `maxAttempts`, then given up;
 * an infrastructure failure is held without spending attempts. Each message is acked after its
 * handler resolved, on the channel that delivered it.
 */
export function createConsumer<Q extends QueueSpec>(options: ConsumerOptions<Q>): Consumer {
  type M = MessageOf<Q['accepts'][number]>;
  const emitter = new EventEmitter() as Consumer;
  const spec = options.queue;
  // Publishers bundle the events of a batched queue: only the batch consumer unpacks them.
  if (spec.batched) throw new Error(`${spec.name} is batched: consume it with createBatchConsumer`);
  const name = queueName(spec, options.replicaId);
  const log = options.logger.child({ component: 'consumer', queue: name });
  const maxAttempts = spec.failures === 'retries' ? (options.maxAttempts ?? 4) : 1;
  const tiers = options.retryTiersMs ?? defaultRetryTiers;
  const ladder = delayLadder(tiers);
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const byType = new Map(spec.accepts.map((d) => [d.type, d]));
  const retired = retiredTypes(spec);
  const held = createHold();
  /** Each delivery's parsed message, for `onDeliveryLost`. */
  const parsedOf = new WeakMap<ConsumeMessage, M>();

  function event(msg: ConsumeMessage, attempt: number, reason?: string): ConsumerEvent {
    return {
      messageId: msg.properties.messageId as string | undefined,
      type: msg.properties.type as string | undefined,
      attempt,
      ...(reason ? { reason } : {}),
    };
  }

  /**
   * Whether a failure is our infrastructure's, not the message's: the database away, or RabbitMQ
   * refusing what the handler or its failure report published (a queue full with
   * `reject-publish`). Neither spends an attempt, and neither may give a delivery up.
   */
  const heldFor = (err: unknown): boolean =>
    err instanceof PublishRefusedError || (options.isTransient?.(err) ?? false);

  async function hold(ch: ConfirmChannel, msg: ConsumeMessage, err: unknown): Promise<void> {
    const holdMs = held.take();
    log.warn({ err: describeError(err), holdMs }, 'infrastructure unavailable; message held');
    await delay(holdMs);
    await requeueFresh(ch, msg, name);
    emitter.emit('held', event(msg, 0, describeError(err)));
  }

  function decide(
    err: unknown,
    attempt: number,
    headers: HandlerContext['headers'],
  ): FailureDecision {
    if (err instanceof DeferError && spec.failures === 'retries') {
      const nextAttemptAt = (delayMs: number) => new Date(now().getTime() + delayMs);
      // One that holds a booked turn comes back by then.
      if (err.by) {
        const delayMs = deferredByDelay(err.delayMs, ladder);
        return { kind: 'defer', delayMs, nextAttemptAt: nextAttemptAt(delayMs) };
      }
      // Every job of a platform whose breaker opened is deferred at once: spread them too.
      if (!err.backoff) {
        const delayMs = deferredDelay(err.delayMs, ladder, random);
        return { kind: 'defer', delayMs, nextAttemptAt: nextAttemptAt(delayMs) };
      }
      const before = deferralsOf(headers);
      const delayMs = deferredDelay(backoffDelay(err.delayMs, before), ladder, random);
      return {
        kind: 'defer',
        delayMs,
        nextAttemptAt: nextAttemptAt(delayMs),
        deferrals: before + 1,
      };
    }
    const retryable = err instanceof AppError ? err.retryable : true;
    if (!retryable || attempt >= maxAttempts) return { kind: 'give-up', retryable };
    // An error may say how long to wait at least (HTTP 429/503 Retry-After).
    const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
    const tierMs = tiers[Math.min(attempt - 1, tiers.length - 1)] ?? 1_000;
    const delayMs = jitteredDelay(
      tierMs,
      ladder,
      random,
      typeof retryAfterMs === 'number' ? retryAfterMs : 0,
    );
    return {
      kind: 'retry',
      attempt: attempt + 1,
      delayMs,
      nextAttemptAt: new Date(now().getTime() + delayMs),
    };
  }

  async function settleFailure(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    message: M,
    err: unknown,
    ctx: HandlerContext,
  ): Promise<void> {
    if (heldFor(err)) return hold(ch, msg, err);
    const decision = decide(err, ctx.attempt, ctx.headers);
    const reason = describeError(err);
    if (decision.kind !== 'defer') {
      ctx.logger.warn({ reason, attempt: ctx.attempt, decision: decision.kind }, 'message failed');
    }
    try {
      await options.onFailure?.(message, err, decision, ctx);
    } catch (hookErr) {
      if (heldFor(hookErr)) return hold(ch, msg, hookErr);
      ctx.logger.error({ err: describeError(hookErr) }, 'failure hook failed; message requeued');
      await delay(1_000);
      await requeueFresh(ch, msg, name);
      return;
    }
    if (decision.kind === 'defer') {
      await delayDelivery(ch, msg, name, decision.delayMs, ctx.attempt, decision.deferrals);
      emitter.emit('deferred', event(msg, ctx.attempt, reason));
    } else if (decision.kind === 'retry') {
      await delayDelivery(ch, msg, name, decision.delayMs, decision.attempt);
      emitter.emit('retried', event(msg, ctx.attempt, reason));
    } else {
      if (options.givenUpTo === 'hook') ch.ack(msg);
      else await parkDelivery(ch, msg, name, reason);
      emitter.emit('dead-lettered', event(msg, ctx.attempt, reason));
    }
  }

  async function handle(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    receivedAt: number,
  ): Promise<void> {
    let parsed: { message: M; attempt: number };
    try {
      parsed = parseDelivery(msg, byType, retired) as { message: M; attempt: number };
    } catch (err) {
      if (err instanceof RetiredMessageError) {
        log.info({ reason: err.message, messageId: msg.properties.messageId }, 'message dropped');
        ch.ack(msg);
        emitter.emit('acked', event(msg, 1));
        return;
      }
      const reason = describeError(err);
      log.warn({ reason, messageId: msg.properties.messageId }, 'poison message parked');
      await parkDelivery(ch, msg, name, reason);
      emitter.emit('dead-lettered', event(msg, 1, reason));
      return;
    }
    const { message, attempt } = parsed;
    parsedOf.set(msg, message);
    const ctx: HandlerContext = {
      attempt,
      maxAttempts,
      redelivered: msg.fields.redelivered,
      headers: msg.properties.headers ?? {},
      priority: msg.properties.priority as number | undefined,
      receivedAt,
      logger: log.child({
        messageId: message.id,
        correlationId: message.correlationId,
        type: message.type,
      }),
    };
    try {
      await options.handler(message, ctx);
    } catch (err) {
      await settleFailure(ch, msg, message, err, ctx);
      return;
    }
    held.reset();
    // An ack on a channel that died meanwhile is not a handler failure: the broker redelivers
    // the message and the idempotent handler sees it again.
    ch.ack(msg);
    emitter.emit('acked', event(msg, attempt));
  }

  const concurrency = options.concurrency ?? spec.concurrency?.default;
  const loop = createConsumeLoop({
    broker: options.broker,
    name: `consumer.${name}`,
    queue: name,
    topology: queueTopology(spec, {
      retryTiersMs: tiers,
      ...(options.replicaId ? { replicaId: options.replicaId } : {}),
    }),
    prefetch: options.prefetch ?? spec.prefetch?.default ?? 10,
    // Unset: as many as it holds (the loop's default).
    ...(concurrency === undefined ? {} : { concurrency }),
    logger: log,
    handle,
    ...(options.handBackAfterMs === undefined
      ? {}
      : {
          handBack: {
            afterMs: options.handBackAfterMs,
            put: async (ch: ConfirmChannel, msg: ConsumeMessage) => {
              await requeueFresh(ch, msg, name);
              emitter.emit('handed-back', event(msg, 0));
            },
          },
        }),
    onLost: (msg) => {
      // A delivery that waited for a slot was never parsed; poison is nobody's loss.
      let message = parsedOf.get(msg);
      if (!message) {
        try {
          message = (parseDelivery(msg, byType, retired) as { message: M; attempt: number })
            .message;
        } catch {
          return;
        }
      }
      options.onDeliveryLost?.(message);
    },
  });
  emitter.start = loop.start;
  emitter.stop = loop.stop;
  emitter.inFlight = loop.inFlight;
  emitter.isConsuming = loop.isConsuming;
  emitter.queue = name;
  emitter.family = spec.name;
  return emitter;
}
