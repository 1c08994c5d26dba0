import type { TestContext } from 'node:test';
import {
  connect,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type GetMessage,
  type Options,
} from 'amqplib';
import type { QueueSpec } from '@psc/contracts';
import { createIsolatedEnv, waitFor, type IsolatedEnv } from '@psc/testing';
import { createLogger, type Logger } from '@psc/telemetry';
import {
  createBroker,
  createConsumer,
  createPublisher,
  type Broker,
  type Consumer,
  type ConsumerEvent,
  type ConsumerOptions,
  type Publisher,
  type Topology,
} from '@psc/messaging';
import { startTcpProxy, type TcpProxy } from '../../../testing/src/tcp-proxy.ts';
import { TEST_TIERS_MS } from './messages.ts';

/** A plain amqplib connection straight to the test's vhost, to arrange and inspect. */
interface RawAmqp {
  connection: ChannelModel;
  channel: ConfirmChannel;
  /** Passive declare on its own channel: ready messages (not unacked ones) and consumers. */
  inspect(queue: string): Promise<{ messageCount: number; consumerCount: number }>;
  /** Confirmed publish of arbitrary bytes straight to `queue`. */
  send(queue: string, content: Buffer | string, options?: Options.Publish): Promise<void>;
  /** Waits until `count` messages were taken (and acked) from `queue`; returns them in order. */
  take(queue: string, count: number): Promise<GetMessage[]>;
}

export interface Fixture {
  env: IsolatedEnv;
  logger: Logger;
  /** Cleanup work, run last-in first-out after the test and before the vhost is dropped. */
  defer(fn: () => unknown): void;
  broker(options?: { url?: string; name?: string }): Promise<Broker>;
  publisher(broker: Broker, topology: Topology, options?: { maxMessageBytes?: number }): Publisher;
  /** A started consumer (retry tiers default to TEST_TIERS_MS) recording its lifecycle events. */
  consumer<Q extends QueueSpec>(
    options: Omit<ConsumerOptions<Q>, 'logger'>,
  ): Promise<{ consumer: Consumer; events: RecordedEvent[] }>;
  raw(): Promise<RawAmqp>;
  /** A cuttable loopback proxy in front of the shared RabbitMQ; returns the vhost URL through it. */
  proxy(): Promise<{ proxy: TcpProxy; amqpUrl: string }>;
}

interface RecordedEvent extends ConsumerEvent {
  name: 'acked' | 'retried' | 'deferred' | 'dead-lettered' | 'held' | 'handed-back';
}

export async function createFixture(t: TestContext): Promise<Fixture> {
  const env = await createIsolatedEnv({ name: t.name.slice(0, 40) });
  const logger = createLogger({ service: 'messaging-conformance', level: 'silent' });
  const cleanups: (() => unknown)[] = [() => env.cleanup()];
  t.after(async () => {
    const failures: unknown[] = [];
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, 'fixture cleanup failed');
  });
  const defer = (fn: () => unknown): void => {
    cleanups.push(fn);
  };

  return {
    env,
    logger,
    defer,
    async broker(options = {}) {
      const broker = createBroker({
        url: options.url ?? env.amqpUrl,
        connectionName: options.name ?? 'messaging-conformance',
        logger,
      });
      defer(() => broker.close());
      await waitFor(() => broker.isConnected(), { timeoutMs: 10_000, message: 'broker connected' });
      return broker;
    },
    publisher(broker, topology, options = {}) {
      const publisher = createPublisher({ broker, topology, appId: 'conformance', ...options });
      defer(() => publisher.close());
      return publisher;
    },
    async consumer(options) {
      const consumer = createConsumer({ retryTiersMs: TEST_TIERS_MS, ...options, logger });
      const events: RecordedEvent[] = [];
      const names = [
        'acked',
        'retried',
        'deferred',
        'dead-lettered',
        'held',
        'handed-back',
      ] as const;
      for (const name of names) {
        consumer.on(name, (e: ConsumerEvent) => events.push({ name, ...e }));
      }
      let stopped = false;
      const stop = consumer.stop;
      consumer.stop = () => {
        stopped = true;
        return stop();
      };
      defer(() => (stopped ? undefined : consumer.stop()));
      await consumer.start();
      return { consumer, events };
    },
    async raw() {
      const connection = await connect(env.amqpUrl);
      connection.on('error', () => {});
      defer(() => connection.close().catch(() => {}));
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => {});
      return {
        connection,
        channel,
        async inspect(queue) {
          const ch = await connection.createChannel();
          ch.on('error', () => {});
          try {
            const { messageCount, consumerCount } = await ch.checkQueue(queue);
            return { messageCount, consumerCount };
          } finally {
            await ch.close().catch(() => {});
          }
        },
        async send(queue, content, options = {}) {
          const body = typeof content === 'string' ? Buffer.from(content) : content;
          await new Promise<void>((resolve, reject) =>
            channel.sendToQueue(queue, body, options, (err) =>
              err ? reject(err as Error) : resolve(),
            ),
          );
        },
        async take(queue, count) {
          const taken: GetMessage[] = [];
          await waitFor(
            async () => {
              for (;;) {
                if (taken.length >= count) return true;
                const msg = await channel.get(queue, { noAck: true });
                if (!msg) return false;
                taken.push(msg);
              }
            },
            { timeoutMs: 10_000, message: `${count} message(s) in ${queue}` },
          );
          return taken;
        },
      };
    },
    async proxy() {
      const target = new URL(env.amqpUrl);
      const proxy = await startTcpProxy({
        host: target.hostname,
        port: Number(target.port || 5672),
      });
      defer(() => proxy.stop());
      return { proxy, amqpUrl: proxy.url(env.amqpUrl) };
    },
  };
}

/**
 * `broker`, recording the channels its consumers open, so a test can make RabbitMQ close the live
 * one: an ack of a delivery tag it never issued closes it with 406 PRECONDITION_FAILED (what its
 * consumer timeout sends) while the connection stays up.
 */
export function watchChannels(broker: Broker): {
  broker: Broker;
  channels: ConfirmChannel[];
  closeLast(): void;
} {
  const channels: ConfirmChannel[] = [];
  return {
    channels,
    broker: {
      ...broker,
      createChannel: (name, setup) =>
        broker.createChannel(name, (ch) => {
          channels.push(ch);
          return setup(ch);
        }),
    },
    closeLast: () => channels.at(-1)!.ack({ fields: { deliveryTag: 2 ** 40 } } as ConsumeMessage),
  };
}

/** The value of a header as a string (amqplib hands long strings back as strings or Buffers). */
export function headerText(msg: GetMessage, name: string): string | undefined {
  const value: unknown = msg.properties.headers?.[name];
  if (value === undefined) return undefined;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return typeof value === 'string' ? value : JSON.stringify(value);
}
