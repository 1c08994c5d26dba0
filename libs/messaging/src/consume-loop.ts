import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Broker } from './broker.ts';
import { throwawayChannel } from './queue-check.ts';
import { assertTopology, type Topology } from './topology.ts';

export interface ConsumeLoop {
  start: () => Promise<void>;
  /** Cancels the consumer, waits for in-flight messages to settle, closes the channel. */
  stop: () => Promise<void>;
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
  prefetch: number;
  logger: Logger;
  /** Must ack or nack `msg` on `ch`; a rejection leaves the message to the broker's redelivery. */
  handle: (ch: ConfirmChannel, msg: ConsumeMessage) => Promise<void>;
  /**
   * Told of each delivery still being handled when its channel closes: the broker gives it out
   * again (marked redelivered), though this process did not die holding it.
   */
  onLost?: (msg: ConsumeMessage) => void;
}): ConsumeLoop {
  let inFlight = 0;
  /** Deliveries being handled, by the channel that delivered them. */
  const handling = new Map<ConfirmChannel, Set<ConsumeMessage>>();
  let stopping = false;
  let idle: (() => void) | undefined;
  let current: { ch: ConfirmChannel; tag: string } | undefined;
  let wrapper: ReturnType<Broker['createChannel']> | undefined;
  const closed = new WeakSet<ConfirmChannel>();

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
      ch.nack(msg, false, true);
      return;
    }
    inFlight += 1;
    let held = handling.get(ch);
    if (!held) handling.set(ch, (held = new Set()));
    held.add(msg);
    options
      .handle(ch, msg)
      .catch((err: unknown) => {
        options.logger.warn(
          {
            err: err instanceof Error ? err.message : String(err),
            messageId: msg.properties.messageId,
          },
          'message left unacked; the broker will redeliver it',
        );
      })
      .finally(() => {
        held.delete(msg);
        inFlight -= 1;
        if (inFlight === 0) idle?.();
      });
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
      const lost = handling.get(ch);
      handling.delete(ch);
      for (const msg of lost ?? []) options.onLost?.(msg);
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
      if (current) await current.ch.cancel(current.tag).catch(() => undefined);
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      await wrapper?.close();
    },
    inFlight: () => inFlight,
    isConsuming: () => current !== undefined,
    queue: options.queue,
  };
}
