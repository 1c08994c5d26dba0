import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Broker } from './broker.ts';
import { assertTopology, type Topology } from './topology.ts';

export interface ConsumeLoop {
  start: () => Promise<void>;
  /** Cancels the consumer, waits for in-flight messages to settle, closes the channel. */
  stop: () => Promise<void>;
  inFlight: () => number;
}

/**
 * The consume/stop mechanics shared by job consumers and RPC servers. Messages are consumed on
 * the raw channel inside `setup`, so each one is acked on the channel that delivered it
 * (amqp-connection-manager #362: an ack after a reconnect kills the new channel), and the
 * consumer is re-created on every reconnect.
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
}): ConsumeLoop {
  let inFlight = 0;
  let stopping = false;
  let idle: (() => void) | undefined;
  let current: { ch: ConfirmChannel; tag: string } | undefined;
  let wrapper: ReturnType<Broker['createChannel']> | undefined;

  function onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) return; // cancelled by the broker (queue deleted); setup re-runs on reconnect
    if (stopping) {
      ch.nack(msg, false, true);
      return;
    }
    inFlight += 1;
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
        inFlight -= 1;
        if (inFlight === 0) idle?.();
      });
  }

  return {
    async start() {
      wrapper = options.broker.createChannel(options.name, async (ch) => {
        await assertTopology(ch, options.topology);
        await ch.prefetch(options.prefetch);
        if (stopping) return;
        const { consumerTag } = await ch.consume(options.queue, (msg) => onMessage(ch, msg));
        current = { ch, tag: consumerTag };
      });
      await wrapper.waitForConnect();
    },
    async stop() {
      stopping = true;
      if (current) await current.ch.cancel(current.tag).catch(() => undefined);
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      await wrapper?.close();
    },
    inFlight: () => inFlight,
  };
}
