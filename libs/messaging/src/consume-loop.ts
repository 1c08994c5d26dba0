import { context, type Context } from '@opentelemetry/api';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { delay } from '@psc/core';
import type { Broker } from './broker.ts';
import { PublishRefusedError } from './errors.ts';
import { throwawayChannel } from './queue-check.ts';
import { assertTopology, type Topology } from './topology.ts';

/** How long a delivery RabbitMQ refused to take back waits before the broker's own requeue. */
const REFUSED_REQUEUE_MS = 1_000;

export interface ConsumeLoop {
  start: () => Promise<void>;
  /**
   * Cancels the consumer, hands back the deliveries waiting for a slot, waits for the running
   * ones to settle, closes the channel.
   */
  stop: () => Promise<void>;
  /** Deliveries held: being handled or waiting for a slot. */
  inFlight: () => number;
  /** Whether a consumer is subscribed right now (for `/ready`). */
  isConsuming: () => boolean;
  readonly queue: string;
}

/** For `/ready`: fails, naming them, while any consumer is not subscribed. */
export function consumersUp(
  consumers: readonly Pick<ConsumeLoop, 'isConsuming' | 'queue'>[],
): Promise<void> {
  const down = consumers.filter((c) => !c.isConsuming()).map((c) => c.queue);
  return down.length === 0
    ? Promise.resolve()
    : Promise.reject(new Error(`not consuming: ${down.join(', ')}`));
}

/** How soon a consumer the broker cancelled (its queue deleted) declares and subscribes again. */
const RESUBSCRIBE_MS = 1_000;

/**
 * The consume/stop mechanics shared by consumers and RPC servers. Messages are consumed on the
 * raw channel inside `setup`, so each one is acked on the channel that delivered it
 * (amqp-connection-manager #362: an ack after a reconnect kills the new channel). The consumer
 * is subscribed again on every reconnect, on a channel the broker closed (see broker.ts), and
 * after the broker cancelled it because its queue was deleted: then the queue is declared anew.
 */
export function createConsumeLoop(options: {
  broker: Broker;
  name: string;
  queue: string;
  topology: Topology;
  /** Deliveries the broker may hand this consumer before it has acked them. */
  prefetch: number;
  /**
   * Deliveries handled at once (default: `prefetch`). The rest of the prefetch wait here, in
   * arrival order, so a handler that ends starts the next delivery at once rather than after
   * its ack has reached the broker and the next delivery has come back: under load that round
   * trip was a fifth of every job slot's time (bench/README.md).
   */
  concurrency?: number;
  logger: Logger;
  /**
   * A delivery that has waited `afterMs` for a slot goes back to the queue (`put`: a fresh copy,
   * then the ack), and from then on the channel holds no more deliveries than it runs, until a
   * run ends in less than `afterMs`. So while long runs take every slot, the deliveries this
   * process would only hold go to a replica with a free slot, or wait in the queue for the first
   * slot of any replica, instead of waiting here (their hard timeout counting) however long the
   * runs take. Unset: they wait here for a slot.
   */
  handBack?: {
    afterMs: number;
    put: (ch: ConfirmChannel, msg: ConsumeMessage) => Promise<void>;
  };
  /**
   * Must ack or nack `msg` on `ch`; a rejection leaves the message unacked until the channel
   * closes (it then goes to another consumer): a handler that can fail for a while puts it back.
   * `receivedAt` (`performance.now()`) is when the delivery arrived, before any wait for a slot.
   */
  handle: (ch: ConfirmChannel, msg: ConsumeMessage, receivedAt: number) => Promise<void>;
  /**
   * Told of each delivery this process held (being handled, or waiting for a slot) when its
   * channel closes, and of each it hands back unhandled when it stops: the broker gives it out
   * again (marked redelivered), though this process did not die holding it.
   */
  onLost?: (msg: ConsumeMessage) => void;
}): ConsumeLoop {
  const concurrency = Math.min(options.concurrency ?? options.prefetch, options.prefetch);
  let inFlight = 0;
  /** Deliveries being handled or waiting for a slot, by the channel that delivered them. */
  const handling = new Map<ConfirmChannel, Set<ConsumeMessage>>();
  /**
   * Deliveries waiting for a slot, oldest first, each with the context it arrived in (its
   * consumer span's, with tracing on): it starts when another run ends, in that run's context.
   */
  const waiting: {
    ch: ConfirmChannel;
    msg: ConsumeMessage;
    receivedAt: number;
    arrivedIn: Context;
  }[] = [];
  let running = 0;
  let stopping = false;
  let idle: (() => void) | undefined;
  let current: { ch: ConfirmChannel; tag: string } | undefined;
  let wrapper: ReturnType<Broker['createChannel']> | undefined;
  const closed = new WeakSet<ConfirmChannel>();
  /** Channels holding no more deliveries than they run, since a hand-back. */
  const narrowed = new WeakSet<ConfirmChannel>();
  let handBackTimer: NodeJS.Timeout | undefined;

  function onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) {
      current = undefined;
      if (!stopping) {
        options.logger.warn({ queue: options.queue }, 'consumer cancelled by the broker');
        resubscribe(ch);
      }
      return;
    }
    if (stopping) {
      options.onLost?.(msg);
      ch.nack(msg, false, true);
      return;
    }
    inFlight += 1;
    let held = handling.get(ch);
    if (!held) handling.set(ch, (held = new Set()));
    held.add(msg);
    const receivedAt = performance.now();
    if (running < concurrency) run(ch, msg, held, receivedAt);
    else {
      waiting.push({ ch, msg, receivedAt, arrivedIn: context.active() });
      armHandBack();
    }
  }

  function run(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    held: Set<ConsumeMessage>,
    receivedAt: number,
  ): void {
    running += 1;
    const startedAt = performance.now();
    options
      .handle(ch, msg, receivedAt)
      .catch(async (err: unknown) => {
        if (err instanceof PublishRefusedError && !closed.has(ch)) {
          // RabbitMQ refused to take the delivery back (its queue refuses publishes): the
          // broker's own requeue, which no queue limit refuses, after a pause so that a delivery
          // refused each time does not go round at once; reported lost first, so its return
          // (marked redelivered) is not a crash.
          options.logger.warn(
            { err: err.message, messageId: msg.properties.messageId },
            'delivery could not be put back (RabbitMQ refused it); requeued',
          );
          await delay(REFUSED_REQUEUE_MS);
          if (closed.has(ch)) return;
          options.onLost?.(msg);
          try {
            ch.nack(msg, false, true);
          } catch {
            // The channel is closing after all: the broker has the delivery back.
          }
          return;
        }
        options.logger.warn(
          {
            err: err instanceof Error ? err.message : String(err),
            messageId: msg.properties.messageId,
          },
          'message left unacked: the broker redelivers it once this channel closes',
        );
      })
      .finally(() => {
        held.delete(msg);
        inFlight -= 1;
        running -= 1;
        widen(ch, performance.now() - startedAt);
        startWaiting();
        if (inFlight === 0) idle?.();
      });
  }

  /** Arms the timer for the oldest delivery waiting for a slot, if it is not armed. */
  function armHandBack(): void {
    const oldest = waiting[0];
    if (!options.handBack || handBackTimer || !oldest) return;
    const dueIn = oldest.receivedAt + options.handBack.afterMs - performance.now();
    handBackTimer = setTimeout(handBackDue, Math.max(0, dueIn));
    handBackTimer.unref();
  }

  /** Puts back every delivery that has waited `handBack.afterMs` for a slot, oldest first. */
  function handBackDue(): void {
    handBackTimer = undefined;
    const handBack = options.handBack;
    if (!handBack || stopping) return;
    const now = performance.now();
    while (waiting.length > 0 && now - waiting[0]!.receivedAt >= handBack.afterMs) {
      const w = waiting.shift()!;
      const held = handling.get(w.ch);
      if (!held?.has(w.msg)) continue;
      narrow(w.ch);
      options.logger.info(
        { messageId: w.msg.properties.messageId, waitedMs: Math.round(now - w.receivedAt) },
        'no slot freed in time: delivery put back in the queue for any replica',
      );
      const settled = () => {
        held.delete(w.msg);
        inFlight -= 1;
        if (inFlight === 0) idle?.();
      };
      handBack.put(w.ch, w.msg).then(settled, (err: unknown) => {
        // A closed channel reported it lost: the broker gives it out again. Otherwise it goes
        // back as a stop hands deliveries back (redelivered, reported lost, so not a crash).
        if (!closed.has(w.ch)) {
          options.logger.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'delivery could not be put back fresh; requeued',
          );
          options.onLost?.(w.msg);
          try {
            w.ch.nack(w.msg, false, true);
          } catch {
            // The channel is closing after all: the broker has the delivery back.
          }
        }
        settled();
      });
    }
    armHandBack();
  }

  /** The channel takes no more deliveries than it runs (a channel-wide limit beside the consumer's). */
  function narrow(ch: ConfirmChannel): void {
    if (narrowed.has(ch) || closed.has(ch)) return;
    narrowed.add(ch);
    ch.prefetch(concurrency, true).catch(() => undefined);
  }

  /**
   * A narrowed channel holds its whole prefetch again once a run took less than the hand-back
   * wait: then a delivery held next in line starts in time again. While runs are long it stays
   * narrow, so it takes a delivery only for a free slot and none waits here to be put back.
   */
  function widen(ch: ConfirmChannel, ranMs: number): void {
    const afterMs = options.handBack?.afterMs;
    if (!narrowed.has(ch) || afterMs === undefined || ranMs >= afterMs || closed.has(ch)) return;
    narrowed.delete(ch);
    // 0: no channel-wide limit; the consumer's own prefetch holds again.
    ch.prefetch(0, true).catch(() => undefined);
  }

  /** Fills free slots from the deliveries waiting (none of a closed channel waits: see close). */
  function startWaiting(): void {
    while (running < concurrency && waiting.length > 0 && !stopping) {
      const next = waiting.shift()!;
      const held = handling.get(next.ch);
      if (held?.has(next.msg)) {
        context.with(next.arrivedIn, () => run(next.ch, next.msg, held, next.receivedAt));
      }
    }
  }

  /** Drops the waiting deliveries of `ch` (or all): they are not handled here. */
  function dropWaiting(ch?: ConfirmChannel): { ch: ConfirmChannel; msg: ConsumeMessage }[] {
    const dropped: { ch: ConfirmChannel; msg: ConsumeMessage }[] = [];
    for (let i = waiting.length - 1; i >= 0; i -= 1) {
      const w = waiting[i]!;
      if (ch && w.ch !== ch) continue;
      waiting.splice(i, 1);
      handling.get(w.ch)?.delete(w.msg);
      inFlight -= 1;
      dropped.unshift(w);
    }
    return dropped;
  }

  async function subscribe(ch: ConfirmChannel): Promise<void> {
    await assertTopology(ch, options.topology, () => throwawayChannel(options.broker));
    await ch.prefetch(options.prefetch);
    if (stopping) return;
    const { consumerTag } = await ch.consume(options.queue, (msg) => onMessage(ch, msg));
    current = { ch, tag: consumerTag };
    ch.once('close', () => {
      closed.add(ch);
      if (current?.ch === ch) current = undefined;
      // Waiting deliveries of this channel can no longer be acked: the broker has them back.
      const lost = [...(handling.get(ch) ?? [])];
      dropWaiting(ch);
      handling.delete(ch);
      for (const msg of lost) options.onLost?.(msg);
      if (inFlight === 0) idle?.();
    });
  }

  function resubscribe(ch: ConfirmChannel): void {
    const timer = setTimeout(() => {
      // A closed channel is reopened by the broker wrapper, whose setup subscribes again.
      if (stopping || closed.has(ch)) return;
      subscribe(ch).catch((err: unknown) => {
        // The channel itself may be gone now: the broker reopens it and setup subscribes then.
        options.logger.warn(
          { err: err instanceof Error ? err.message : String(err), queue: options.queue },
          'could not subscribe again; retrying',
        );
        if (!current) resubscribe(ch);
      });
    }, RESUBSCRIBE_MS);
    timer.unref();
  }

  return {
    async start() {
      wrapper = options.broker.createChannel(options.name, subscribe);
      await wrapper.waitForConnect();
    },
    async stop() {
      stopping = true;
      clearTimeout(handBackTimer);
      if (current) await current.ch.cancel(current.tag).catch(() => undefined);
      // Deliveries still waiting for a slot go back to the queue now, for another consumer,
      // rather than when the channel closes after the running ones end.
      for (const { ch, msg } of dropWaiting()) {
        options.onLost?.(msg);
        if (!closed.has(ch)) ch.nack(msg, false, true);
      }
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      await wrapper?.close();
    },
    inFlight: () => inFlight,
    isConsuming: () => current !== undefined,
    queue: options.queue,
  };
}
