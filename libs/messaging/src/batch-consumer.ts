import { EventEmitter } from 'node:events';
import { ROOT_CONTEXT, context, propagation, type Context } from '@opentelemetry/api';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { delay } from '@psc/core';
import type { MessageDefinition, QueueSpec } from '@psc/contracts';
import type { Broker } from './broker.ts';
import { createConsumeLoop } from './consume-loop.ts';
import type { Consumer, ConsumerEvent } from './consumer.ts';
import { traceBatch } from './batch-spans.ts';
import type { TraceCarrier } from './trace-carriers.ts';
import { describeError, parkDelivery, parkEntry } from './delivery.ts';
import { createHold } from './hold.ts';
import { parseBundle, retiredTypes, type BundleEntry, type MessageOf } from './message.ts';
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

/** One delivery: a message, or a bundle of several; acked once none of them is open. */
interface Delivery {
  ch: ConfirmChannel;
  msg: ConsumeMessage;
  /** Its messages not yet applied or parked. */
  open: number;
  bundled: boolean;
  settled: () => void;
}

interface Pending<M> {
  d: Delivery;
  message: M;
  /** The trace the message belongs to (see batch-spans.ts). */
  parent: Context;
  /** Its own trace context, out of a bundle that names it (kept when it is parked alone). */
  trace: TraceCarrier | undefined;
}

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
  // Marked in the topology table, so that publishers know they may bundle its events.
  if (!spec.batched) throw new Error(`${spec.name} is not marked batched in the topology table`);
  const log = options.logger.child({ component: 'batch-consumer', queue: spec.name });
  const byType = new Map(spec.accepts.map((d) => [d.type, d]));
  const retired = retiredTypes(spec);
  const prefetch = options.prefetch ?? spec.prefetch?.default ?? 100;
  let pending: Pending<M>[] = [];
  let flushing = false;
  let stopping = false;
  const lingerMs = options.lingerMs ?? 0;
  let lingering: NodeJS.Timeout | undefined;

  const event = (
    msg: ConsumeMessage,
    reason?: string,
    own?: { id?: string | undefined; type?: string | undefined },
  ): ConsumerEvent => ({
    messageId: own?.id ?? (msg.properties.messageId as string | undefined),
    type: own?.type ?? (msg.properties.type as string | undefined),
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

  /** Marks `p` done; its delivery, once nothing of it is open, is returned to be acked. */
  function close(p: Pending<M>): Delivery | undefined {
    p.d.open -= 1;
    return p.d.open === 0 ? p.d : undefined;
  }

  /**
   * Acks the deliveries a committed batch completed. One `multiple` ack covers them when nothing
   * else the channel delivered before the last of them is still open (a poison message being
   * parked, a batch of another channel, the rest of a bundle): one frame for the broker instead
   * of one per delivery.
   */
  function ackAll(batch: Pending<M>[]): void {
    const done = batch.flatMap((p) => close(p) ?? []);
    if (done.length === 0) return;
    // The highest tag: a bundle's messages can join a batch after a later delivery's.
    const last = done.reduce((a, b) =>
      b.msg.fields.deliveryTag > a.msg.fields.deliveryTag ? b : a,
    );
    const ch = last.ch;
    const tags = tagsOf(ch);
    const lastTag = last.msg.fields.deliveryTag;
    const mine = new Set(done.map((d) => d.msg.fields.deliveryTag));
    const covers =
      done.length > 1 &&
      done.every((d) => d.ch === ch) &&
      ![...tags].some((tag) => tag <= lastTag && !mine.has(tag));
    if (!covers) {
      done.forEach(ack);
      return;
    }
    try {
      ch.ack(last.msg, true);
    } catch {
      // The delivering channel is gone: the broker redelivers, and applying again is a no-op.
      for (const d of done) d.settled();
      return;
    }
    for (const d of done) {
      tags.delete(d.msg.fields.deliveryTag);
      emitter.emit('acked', event(d.msg));
      d.settled();
    }
  }

  function ack(d: Delivery): void {
    try {
      d.ch.ack(d.msg);
      settledTag(d.ch, d.msg);
      emitter.emit('acked', event(d.msg));
    } catch {
      // The delivering channel is gone: the broker redelivers, and applying again is a no-op.
    }
    d.settled();
  }

  /**
   * Parks a message that failed alone: the delivery itself, or, out of a bundle, a copy of that
   * one envelope (the bundle is acked once the rest are done).
   */
  async function park(p: Pending<M>, reason: string): Promise<void> {
    const { ch, msg } = p.d;
    const own = { id: p.message.id, type: p.message.type };
    if (!p.d.bundled) {
      await parkDelivery(ch, msg, spec.name, reason).then(
        () => settledTag(ch, msg),
        () => undefined,
      );
      emitter.emit('dead-lettered', event(msg, reason, own));
      p.d.settled();
      return;
    }
    try {
      const own = { json: p.message, messageId: p.message.id, trace: p.trace };
      await parkEntry(ch, msg, spec.name, own, reason);
    } catch {
      // Not parked: the bundle is never acked here (its channel is likely gone, and the broker
      // delivers it again).
      p.d.open = -Infinity;
      p.d.settled();
      return;
    }
    emitter.emit('dead-lettered', event(msg, reason, own));
    const d = close(p);
    if (d) ack(d);
  }

  /** Applies `batch` until it commits or is given up; transient failures wait and retry. */
  async function apply(batch: Pending<M>[]): Promise<'done' | 'failed'> {
    const held = createHold();
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
        const holdMs = held.take();
        log.warn({ err: describeError(err), holdMs, size: batch.length }, 'batch held');
        emitter.emit('held', event(batch[0]!.d.msg, describeError(err)));
        await delay(holdMs);
      }
    }
  }

  async function settle(batch: Pending<M>[]): Promise<void> {
    const traced = batch.map((p) => ({
      parent: p.parent,
      id: p.message.id,
      type: p.message.type,
      bundled: p.d.bundled,
    }));
    if ((await traceBatch(spec.name, traced, () => apply(batch))) === 'done') {
      ackAll(batch);
      return;
    }
    if (batch.length === 1) {
      await park(batch[0]!, 'could not be applied (see the consumer log)');
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
          // Stopping while held: hand the batch's deliveries back to the broker untouched.
          for (const d of new Set(batch.map((p) => p.d))) {
            if (d.open <= 0) continue;
            d.open = 0;
            d.ch.nack(d.msg, false, true);
            settledTag(d.ch, d.msg);
            d.settled();
          }
        }
      }
    } finally {
      flushing = false;
    }
  }

  async function handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    tagsOf(ch).add(msg.fields.deliveryTag);
    let entries: BundleEntry<MessageDefinition>[];
    try {
      entries = parseBundle(msg, byType, retired);
    } catch (err) {
      await parkPoison(ch, msg, describeError(err));
      return;
    }
    if (entries.length === 1 && 'retired' in entries[0]!) {
      log.info(
        { reason: entries[0].retired, messageId: msg.properties.messageId },
        'message dropped',
      );
      ch.ack(msg);
      settledTag(ch, msg);
      return;
    }
    if (entries.length === 1 && 'poison' in entries[0]!) {
      await parkPoison(ch, msg, entries[0].poison);
      return;
    }
    // The delivery's own trace (its consumer span's, with tracing on): a bundle's first envelope's.
    const delivered = context.active();
    await new Promise<void>((settled) => {
      const d: Delivery = { ch, msg, open: entries.length, bundled: entries.length > 1, settled };
      void (async () => {
        const ready: Pending<M>[] = [];
        for (const [i, entry] of entries.entries()) {
          if ('message' in entry) {
            const parent =
              i === 0
                ? delivered
                : entry.trace
                  ? propagation.extract(ROOT_CONTEXT, entry.trace)
                  : ROOT_CONTEXT;
            ready.push({ d, message: entry.message as M, parent, trace: entry.trace });
            continue;
          }
          if ('retired' in entry) {
            log.info(
              { reason: entry.retired, messageId: msg.properties.messageId },
              'message dropped',
            );
          } else {
            log.warn({ reason: entry.poison, messageId: entry.messageId }, 'poison message parked');
            try {
              await parkEntry(ch, msg, spec.name, entry, entry.poison);
            } catch {
              // Not parked: the bundle stays unacked (and open on the channel), to come again.
              d.open = -Infinity;
              settled();
              return;
            }
            emitter.emit('dead-lettered', event(msg, entry.poison, { id: entry.messageId }));
          }
          d.open -= 1;
        }
        if (d.open === 0) {
          ack(d);
          return;
        }
        pending.push(...ready);
        if (flushing) return; // the running flush takes them next
        if (lingerMs > 0 && pending.length < prefetch && !stopping) {
          lingering ??= setTimeout(() => void flush(), lingerMs);
          return;
        }
        // After the current turn: deliveries that arrived together join the same batch.
        setImmediate(() => void flush());
      })();
    });
  }

  /** Parks a delivery that is poison as a whole, with the reason. */
  async function parkPoison(ch: ConfirmChannel, msg: ConsumeMessage, reason: string) {
    log.warn({ reason, messageId: msg.properties.messageId }, 'poison message parked');
    // Not parked (the send failed): it stays open on the channel, so no later batch's
    // multiple ack may cover it.
    await parkDelivery(ch, msg, spec.name, reason);
    settledTag(ch, msg);
    emitter.emit('dead-lettered', event(msg, reason));
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
  emitter.family = spec.name;
  return emitter;
}
