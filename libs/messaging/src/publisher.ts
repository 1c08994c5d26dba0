import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, Options } from 'amqplib';
import { HEADERS, type Envelope } from '@psc/contracts';
import type { Broker } from './broker.ts';
import { throwawayChannel } from './queue-check.ts';
import { assertTopology, type Topology } from './topology.ts';
import { withPublishContext } from './trace-context.ts';
import { MessageTooLargeError, PublishRefusedError, UnroutableError } from './errors.ts';

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface PublishOptions {
  priority?: number;
  headers?: Record<string, unknown>;
  /** Per-message TTL in ms (RPC requests). */
  expirationMs?: number;
  replyTo?: string;
  /**
   * The envelope as JSON, when the caller has serialised it already (the outbox, which stored
   * it): it goes as it is instead of being serialised again. For a bundle, one per envelope
   * (`undefined` for any not serialised yet).
   */
  serialised?: string | readonly (string | undefined)[];
}

export interface Publisher {
  /**
   * Resolves once the broker confirmed the message; rejects if it was unroutable, or with a
   * `PublishRefusedError` if the broker refused it (a nack).
   */
  publish(
    exchange: string,
    routingKey: string,
    envelope: Envelope<unknown>,
    options?: PublishOptions,
  ): Promise<void>;
  /**
   * Publishes envelopes of one type as one message, a bundle (`HEADERS.bundle`): for types in
   * `BUNDLED_TYPES` only, whose consumers unpack them. Resolves once the broker confirmed it.
   */
  publishBundle(
    exchange: string,
    routingKey: string,
    envelopes: readonly Envelope<unknown>[],
    options?: PublishOptions,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface PublisherOptions {
  broker: Broker;
  /** Topology to assert before the first publish (exchanges must exist). */
  topology: Topology;
  appId: string;
  maxMessageBytes?: number;
  publishTimeoutMs?: number;
}

export function amqpProperties(
  envelope: Envelope<unknown>,
  appId: string,
  options: PublishOptions = {},
): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: envelope.id,
    correlationId: envelope.correlationId,
    type: envelope.type,
    appId,
    timestamp: Math.floor(Date.parse(envelope.occurredAt) / 1000),
    headers: options.headers ?? {},
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.expirationMs !== undefined ? { expiration: String(options.expirationMs) } : {}),
    ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}),
  };
}

export function encode(envelope: Envelope<unknown>, maxBytes: number, serialised?: string): Buffer {
  const body = Buffer.from(serialised ?? JSON.stringify(envelope));
  if (body.length > maxBytes) throw new MessageTooLargeError(body.length, maxBytes);
  return body;
}

/**
 * Confirmed, persistent, mandatory publishing. Returned (unroutable) messages are remembered by
 * messageId; the broker sends basic.return before the confirm, so the publish can reject.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const returned = new Set<string>();
  const channel = options.broker.createChannel(
    `${options.appId}.publisher`,
    async (ch: ConfirmChannel) => {
      ch.on('return', (msg: { properties: { messageId?: string } }) => {
        if (msg.properties.messageId) returned.add(msg.properties.messageId);
      });
      await assertTopology(ch, options.topology, () => throwawayChannel(options.broker));
    },
  );

  async function send(exchange: string, routingKey: string, body: Buffer, props: Options.Publish) {
    await channel
      .publish(
        exchange,
        routingKey,
        body,
        withPublishContext({ ...props, timeout: options.publishTimeoutMs ?? 10_000 }),
      )
      .catch((err: unknown) => {
        // amqplib's word for a nack.
        if (err instanceof Error && err.message === 'message nacked') {
          returned.delete(props.messageId!);
          throw new PublishRefusedError(exchange, routingKey);
        }
        throw err;
      });
    if (returned.delete(props.messageId!)) throw new UnroutableError(exchange, routingKey);
  }

  return {
    async publish(exchange, routingKey, envelope, publishOptions = {}) {
      const props = amqpProperties(envelope, options.appId, publishOptions);
      const { serialised } = publishOptions;
      const text = typeof serialised === 'string' ? serialised : undefined;
      await send(exchange, routingKey, encode(envelope, maxBytes, text), props);
    },
    async publishBundle(exchange, routingKey, envelopes, publishOptions = {}) {
      const first = envelopes[0];
      if (!first) return;
      const { serialised } = publishOptions;
      const texts = typeof serialised === 'object' ? serialised : [];
      const body = Buffer.from(
        `[${envelopes.map((e, i) => texts[i] ?? JSON.stringify(e)).join(',')}]`,
      );
      if (body.length > maxBytes) throw new MessageTooLargeError(body.length, maxBytes);
      // The bundle's own id: each envelope keeps its own inside, for the consumer.
      const props = amqpProperties({ ...first, id: randomUUID() }, options.appId, {
        ...publishOptions,
        headers: { ...publishOptions.headers, [HEADERS.bundle]: envelopes.length },
      });
      await send(exchange, routingKey, body, props);
    },
    async close() {
      await channel.close();
    },
  };
}
