import { EventEmitter } from 'node:events';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { delay } from '@psc/core';
import type { QueueSpec } from '@psc/contracts';
import type { Broker } from './broker.ts';
import { createConsumeLoop } from './consume-loop.ts';
import type { Consumer, ConsumerEvent } from './consumer.ts';
import { describeError, parkDelivery } from './delivery.ts';
import { parseDelivery, retiredTypes, type MessageOf } from './message.ts';
import { RetiredMessageError } from './errors.ts';
import { queueTopology } from './topology.ts';

export interface BatchConsumerOptions<Q extends QueueSpec> {
  broker: Broker;
  queue: Q;
  /**
   * Applies a batch, in delivery order, all or nothing (one transaction): every message is acked
   * after it resolves. A batch holds what arrived while the previous one was being applied, up
   * to `prefetch` messages.
   */
  handleBatch: (messages: MessageOf<Q['accepts'][number]>[]) => Promise<void>;
  /**
   * Errors of our own infrastructure (the database is away): the batch is held and tried again
   * with a growing pause, never dead-lettered. Any other error splits the batch, and a message
   * that fails alone is parked in the dead-letter queue with the reason.
   */
  isTransient: (err: unknown) => boolean;
  logger: Logger;
  prefetch?: number;
  /**
   * How long the first message of a batch waits for others before the batch is applied (a full
   * prefetch window goes at once). 0, the default, applies a lone message at once. State others
   * read soon after (the ledger) waits a few ms; a store nobody waits on (logs) a quarter second:
   * a moment of delay for one transaction per window instead of one per message.
   */
  lingerMs?: number;
}

interface Pending<M> {
  ch: ConfirmChannel;
  msg: ConsumeMessage;
  message: M;
  settled: () => void;
}

const HOLD_MIN_MS = 500;
const HOLD_MAX_MS = 30_000;

/**
 * A consumer that applies what it receives in batches (group commit): while one batch is being
 * applied the next one collects, so under load one transaction serves many messages and when
 * idle a message is applied at once.
 */
export function createBatchConsumer<Q extends QueueSpec>(
  options: BatchConsumerOptions<Q>,
): Consumer {
  type M = MessageOf<Q['accepts'][number]>;
  const emitter = new EventEmitter() as Consumer;
  const spec = options.queue;
  const log = options.logger.child({ component: 'batch-consumer', queue: spec.name });
  const byType = new Map(spec.accepts.map((d) => [d.type, d]));
  const retired = retiredTypes(spec);
  const prefetch = options.prefetch ?? spec.prefetch?.default ?? 100;
  let pending: Pending<M>[] = [];
  let flushing = false;
  let stopping = false;
  const lingerMs = options.lingerMs ?? 0;
  let lingering: NodeJS.Timeout | undefined;

  const event = (p: { msg: ConsumeMessage }, reason?: string): ConsumerEvent => ({
    messageId: p.msg.properties.messageId as string | undefined,
    type: p.msg.properties.type as string | undefined,
    attempt: 1,
    ...(reason ? { reason } : {}),
  });

  // Deliveries each channel has handed us and we have not settled yet, by delivery tag.
  const unsettled = new WeakMap<ConfirmChannel, Set<number>>();
  const tagsOf = (ch: ConfirmChannel): Set<number> => {
    let tags = unsettled.get(ch);
    if (!tags) unsettled.set(ch, (tags = new Set()));
    return tags;
  };
  const settledTag = (ch: ConfirmChannel, msg: ConsumeMessage): void => {
    unsettled.get(ch)?.delete(msg.fields.deliveryTag);
  };

  /**
   * Acks a committed batch. One `multiple` ack covers it when nothing else the channel delivered
   * before its last message is still open (a poison message being parked, a batch of another
   * channel): one frame for the broker instead of one per message.
   */
  function ackAll(batch: Pending<M>[]): void {
    const last = batch[batch.length - 1]!;
    const ch = last.ch;
    const tags = tagsOf(ch);
    const lastTag = last.msg.fields.deliveryTag;
    const mine = new Set(batch.map((p) => p.msg.fields.deliveryTag));
    const covers =
      batch.length > 1 &&
      batch.every((p) => p.ch === ch) &&
      ![...tags].some((tag) => tag <= lastTag && !mine.has(tag));
    if (!covers) {
      batch.forEach(ack);
      return;
    }
    try {
      ch.ack(last.msg, true);
      for (const p of batch) {
        tags.delete(p.msg.fields.deliveryTag);
        emitter.emit('acked', event(p));
      }
    } catch {
      // The delivering channel is gone: the broker redelivers, and applying again is a no-op.
    }
  }

  function ack(p: Pending<M>): void {
    try {
      p.ch.ack(p.msg);
      settledTag(p.ch, p.msg);
      emitter.emit('acked', event(p));
    } catch {
      // The delivering channel is gone: the broker redelivers, and applying again is a no-op.
    }
  }

  /** Applies `batch` until it commits or is given up; transient failures wait and retry. */
  async function apply(batch: Pending<M>[]): Promise<'done' | 'failed'> {
    let holdMs = HOLD_MIN_MS;
    for (;;) {
      try {
        await options.handleBatch(batch.map((p) => p.message));
        return 'done';
      } catch (err) {
        if (!options.isTransient(err)) {
          log.warn({ err: describeError(err), size: batch.length }, 'batch failed');
          return 'failed';
        }
        if (stopping) throw err;
        log.warn({ err: describeError(err), holdMs, size: batch.length }, 'batch held');
        emitter.emit('held', event(batch[0]!, describeError(err)));
        await delay(holdMs);
        holdMs = Math.min(holdMs * 2, HOLD_MAX_MS);
      }
    }
  }

  async function settle(batch: Pending<M>[]): Promise<void> {
    if ((await apply(batch)) === 'done') {
      ackAll(batch);
      return;
    }
    if (batch.length === 1) {
      const [p] = batch as [Pending<M>];
      const reason = 'could not be applied (see the consumer log)';
      await parkDelivery(p.ch, p.msg, spec.name, reason).then(
        () => settledTag(p.ch, p.msg),
        () => undefined,
      );
      emitter.emit('dead-lettered', event(p, reason));
      return;
    }
    // One bad message must not hold back the rest: apply each on its own.
    for (const p of batch) await settle([p]);
  }

  async function flush(): Promise<void> {
    if (lingering) clearTimeout(lingering);
    lingering = undefined;
    if (flushing) return;
    flushing = true;
    try {
      while (pending.length > 0) {
        const batch = pending.slice(0, prefetch);
        pending = pending.slice(batch.length);
        try {
          await settle(batch);
        } catch {
          // Stopping while held: hand the batch back to the broker untouched.
          for (const p of batch) {
            p.ch.nack(p.msg, false, true);
            settledTag(p.ch, p.msg);
          }
        }
        for (const p of batch) p.settled();
      }
    } finally {
      flushing = false;
    }
  }

  async function handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    tagsOf(ch).add(msg.fields.deliveryTag);
    let message: M;
    try {
      message = parseDelivery(msg, byType, retired).message as M;
    } catch (err) {
      if (err instanceof RetiredMessageError) {
        log.info({ reason: err.message, messageId: msg.properties.messageId }, 'message dropped');
        ch.ack(msg);
        settledTag(ch, msg);
        return;
      }
      const reason = describeError(err);
      log.warn({ reason, messageId: msg.properties.messageId }, 'poison message parked');
      // Not parked (the send failed): it stays open on the channel, so no later batch's
      // multiple ack may cover it.
      await parkDelivery(ch, msg, spec.name, reason);
      settledTag(ch, msg);
      emitter.emit('dead-lettered', event({ msg }, reason));
      return;
    }
    await new Promise<void>((settled) => {
      pending.push({ ch, msg, message, settled });
      if (flushing) return; // the running flush takes it next
      if (lingerMs > 0 && pending.length < prefetch && !stopping) {
        lingering ??= setTimeout(() => void flush(), lingerMs);
        return;
      }
      // After the current turn: deliveries that arrived together join the same batch.
      setImmediate(() => void flush());
    });
  }

  const loop = createConsumeLoop({
    broker: options.broker,
    name: `batch-consumer.${spec.name}`,
    queue: spec.name,
    topology: queueTopology(spec),
    prefetch,
    logger: log,
    handle,
  });
  emitter.start = loop.start;
  emitter.stop = async () => {
    stopping = true;
    if (lingering) void flush();
    await loop.stop();
  };
  emitter.inFlight = loop.inFlight;
  emitter.isConsuming = loop.isConsuming;
  emitter.queue = spec.name;
  return emitter;
}
