import { EventEmitter } from 'node:events';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Logger } from 'pino';
import { AppError, delay } from '@psc/core';
import {
  EXCHANGES,
  HEADERS,
  MAX_PRIORITY,
  QUEUES,
  RETRY_TIERS_MS,
  type Envelope,
  type MessageDefinition,
} from '@psc/contracts';
import type { Broker } from './broker.ts';
import type { Topology } from './topology.ts';
import { createConsumeLoop } from './consume-loop.ts';
import { DeferError, PoisonMessageError } from './errors.ts';

export type FailureOutcome = 'retrying' | 'dead';

export interface HandlerContext {
  attempt: number;
  maxAttempts: number;
  redelivered: boolean;
  headers: Record<string, unknown>;
  priority: number | undefined;
  logger: Logger;
}

export type MessageHandler = (envelope: Envelope<unknown>, ctx: HandlerContext) => Promise<void>;

export interface ConsumerOptions {
  broker: Broker;
  queue: string;
  topology: Topology;
  /** Message types this queue accepts; anything else is poison. */
  accepts: readonly MessageDefinition[];
  handler: MessageHandler;
  logger: Logger;
  prefetch?: number;
  /** Total tries including the first (default 4: one try and three retries). */
  maxAttempts?: number;
  retryTiersMs?: readonly number[];
  /**
   * Called before a failed message is retried or dead-lettered, so the owner can record the
   * outcome (e.g. a `job.failed` event). If it throws, the message is requeued untouched.
   */
  onFailure?: (
    envelope: Envelope<unknown>,
    error: unknown,
    outcome: FailureOutcome,
    ctx: HandlerContext,
  ) => Promise<void>;
}

/** Lifecycle events, so tests and metrics can await outcomes: `acked`, `retried`, `deferred`, `dead-lettered`. */
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
}

const MAX_SANE_ATTEMPT = 1_000;

function readAttempt(headers: Record<string, unknown>): number {
  const raw = headers[HEADERS.attempt];
  if (raw === undefined) return 1;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SANE_ATTEMPT) {
    throw new PoisonMessageError(
      `invalid ${HEADERS.attempt} header: ${JSON.stringify(raw).slice(0, 40)}`,
    );
  }
  return n;
}

function describe(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

function confirmPublish(
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

export function createConsumer(options: ConsumerOptions): Consumer {
  const emitter = new EventEmitter() as Consumer;
  const log = options.logger.child({ component: 'consumer', queue: options.queue });
  const maxAttempts = options.maxAttempts ?? 4;
  const tiers = options.retryTiersMs ?? RETRY_TIERS_MS;
  const byType = new Map(options.accepts.map((d) => [d.type, d]));
  async function deadLetter(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    reason: string,
  ): Promise<void> {
    const headers = {
      ...msg.properties.headers,
      [HEADERS.deadReason]: reason.slice(0, 1_000),
      [HEADERS.deadQueue]: options.queue,
      [HEADERS.deadAt]: new Date().toISOString(),
    };
    await confirmPublish(ch, EXCHANGES.deadLetter, options.queue, msg.content, {
      ...msg.properties,
      headers,
      persistent: true,
    });
    ch.ack(msg);
    emitter.emit('dead-lettered', event(msg, reason));
  }

  async function republish(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    attempt: number,
    delayMs: number,
  ): Promise<void> {
    const found = tiers.findIndex((t) => t >= delayMs);
    const index = found === -1 ? tiers.length - 1 : found;
    await confirmPublish(ch, '', QUEUES.retry(options.queue, index), msg.content, {
      ...msg.properties,
      headers: { ...msg.properties.headers, [HEADERS.attempt]: attempt },
      persistent: true,
    });
    ch.ack(msg);
  }

  function event(msg: ConsumeMessage, reason?: string): ConsumerEvent {
    const attempt = Number(msg.properties.headers?.[HEADERS.attempt] ?? 1);
    return {
      messageId: msg.properties.messageId as string | undefined,
      type: msg.properties.type as string | undefined,
      attempt,
      ...(reason ? { reason } : {}),
    };
  }

  function parse(msg: ConsumeMessage): { envelope: Envelope<unknown>; attempt: number } {
    let json: unknown;
    try {
      json = JSON.parse(msg.content.toString('utf8'));
    } catch {
      throw new PoisonMessageError('body is not valid JSON');
    }
    const type = (json as { type?: unknown } | null)?.type;
    const definition = typeof type === 'string' ? byType.get(type) : undefined;
    if (!definition)
      throw new PoisonMessageError(`unexpected message type ${String(type).slice(0, 80)}`);
    const parsed = definition.envelope.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new PoisonMessageError(
        `${definition.type} fails its contract at ${first?.path.join('.') || '(root)'}: ${first?.message ?? ''}`,
      );
    }
    const priority = msg.properties.priority as number | undefined;
    if (priority !== undefined && (priority < 0 || priority > MAX_PRIORITY + 1)) {
      throw new PoisonMessageError(`absurd priority ${priority}`);
    }
    return { envelope: parsed.data, attempt: readAttempt(msg.properties.headers ?? {}) };
  }

  async function handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    let parsed: { envelope: Envelope<unknown>; attempt: number };
    try {
      parsed = parse(msg);
    } catch (err) {
      log.warn(
        { reason: describe(err), messageId: msg.properties.messageId },
        'poison message dead-lettered',
      );
      await deadLetter(ch, msg, describe(err));
      return;
    }
    const { envelope, attempt } = parsed;
    const ctx: HandlerContext = {
      attempt,
      maxAttempts,
      redelivered: msg.fields.redelivered,
      headers: msg.properties.headers ?? {},
      priority: msg.properties.priority as number | undefined,
      logger: log.child({
        messageId: envelope.id,
        correlationId: envelope.correlationId,
        type: envelope.type,
      }),
    };
    let handled = false;
    try {
      await options.handler(envelope, ctx);
      handled = true;
    } catch (err) {
      if (err instanceof DeferError) {
        await republish(ch, msg, attempt, err.delayMs);
        emitter.emit('deferred', event(msg, describe(err)));
        return;
      }
      const retryable = err instanceof AppError ? err.retryable : true;
      const outcome: FailureOutcome = retryable && attempt < maxAttempts ? 'retrying' : 'dead';
      const reason = describe(err);
      ctx.logger.warn({ reason, attempt, outcome }, 'message handling failed');
      try {
        await options.onFailure?.(envelope, err, outcome, ctx);
      } catch (hookErr) {
        ctx.logger.error({ err: describe(hookErr) }, 'failure hook failed; message requeued');
        // The hook usually fails because the database is away: pause so the requeue does not spin.
        await delay(1_000);
        ch.nack(msg, false, true);
        return;
      }
      if (outcome === 'retrying') {
        // An error may say how long to wait at least (HTTP 429/503 Retry-After).
        const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
        const tierMs = tiers[Math.min(attempt - 1, tiers.length - 1)] ?? 1_000;
        const delayMs = typeof retryAfterMs === 'number' ? Math.max(tierMs, retryAfterMs) : tierMs;
        await republish(ch, msg, attempt + 1, delayMs);
        emitter.emit('retried', event(msg, reason));
      } else {
        await deadLetter(ch, msg, reason);
      }
    }
    if (handled) {
      // Outside the try: an ack on a channel that died meanwhile is not a handler failure; the
      // broker redelivers the message and the idempotent handler sees it again.
      ch.ack(msg);
      emitter.emit('acked', event(msg));
    }
  }

  const loop = createConsumeLoop({
    broker: options.broker,
    name: `consumer.${options.queue}`,
    queue: options.queue,
    topology: options.topology,
    prefetch: options.prefetch ?? 10,
    logger: log,
    handle,
  });
  emitter.start = loop.start;
  emitter.stop = loop.stop;
  emitter.inFlight = loop.inFlight;
  return emitter;
}
