import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import {
  EXCHANGES,
  QUEUES,
  QUEUE_SPECS,
  type QueueSpec,
  type RpcDefinition,
  type RpcReply,
  type RpcRequest,
  type RpcResponse,
  type ServiceName,
} from '@psc/contracts';
import { NotFoundError, ValidationError, toErrorBody } from '@psc/core';
import type { Broker } from './broker.ts';
import { baseTopology, mergeTopologies } from './topology.ts';
import { createConsumeLoop } from './consume-loop.ts';
import { CONTRACT_HEADER, responseFingerprint } from './rpc-fingerprint.ts';

export interface RpcHandler<R extends RpcDefinition = RpcDefinition> {
  definition: R;
  handle(
    request: RpcRequest<R>,
    ctx: { correlationId: string | undefined; logger: Logger },
  ): Promise<RpcResponse<R>>;
}

/** Keeps the definition's types attached to its handler. */
export function rpcHandler<R extends RpcDefinition>(
  definition: R,
  handle: RpcHandler<R>['handle'],
): RpcHandler {
  return { definition, handle };
}

export interface RpcServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether it takes requests now (false while its channel is being reopened): for `/ready`. */
  isConsuming(): boolean;
  readonly queue: string;
}

/**
 * Serves a service's request/reply operations from `<service>.rpc`. The queue auto-deletes when
 * the last replica goes, so callers get a fast 503 instead of waiting out a timeout.
 *
 * Each request is parsed once with its contract. A result is not parsed again on its way out:
 * the handler is typed against the response contract and serves data the owner validated when
 * it was written (re-checking a page of 50 platforms cost ~1 ms per request). The reply names
 * the fingerprint of the contract it was produced under, so a caller on the same contract uses
 * it as it is and only a caller on another version validates it.
 */
export function createRpcServer(options: {
  broker: Broker;
  service: ServiceName;
  handlers: RpcHandler[];
  logger: Logger;
  prefetch?: number;
}): RpcServer {
  const log = options.logger.child({ component: 'rpc-server' });
  const byType = new Map(options.handlers.map((h) => [h.definition.type, h]));
  const queue = QUEUES.rpc(options.service);
  const spec = (Object.values(QUEUE_SPECS) as QueueSpec[]).find((q) => q.name === queue);
  if (!spec) throw new Error(`the topology table has no RPC queue for ${options.service}`);
  async function answer(msg: ConsumeMessage): Promise<{ reply: RpcReply; contract?: string }> {
    const type = msg.properties.type as string | undefined;
    const handler = type ? byType.get(type) : undefined;
    if (!handler)
      return {
        reply: {
          ok: false,
          error: toErrorBody(new NotFoundError(`unknown operation ${type ?? ''}`)),
        },
      };
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(msg.content.toString('utf8'));
      } catch {
        throw new ValidationError('request is not valid JSON');
      }
      const parsed = handler.definition.request.safeParse(raw);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw new ValidationError(
          `${first?.path.join('.') || 'request'}: ${first?.message ?? 'invalid'}`,
          parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        );
      }
      const correlationId = msg.properties.headers?.['x-psc-correlation-id'] as string | undefined;
      let logger: Logger | undefined;
      const result = await handler.handle(parsed.data, {
        correlationId,
        // Made when a handler logs: most never do, and a child logger per request costs.
        get logger() {
          return (logger ??= log.child({ op: type, correlationId }));
        },
      });
      const contract = responseFingerprint(handler.definition);
      return { reply: { ok: true, result }, ...(contract === undefined ? {} : { contract }) };
    } catch (err) {
      const body = toErrorBody(err);
      if (body.status >= 500) log.error({ err, op: type }, 'rpc handler failed');
      return { reply: { ok: false, error: body } };
    }
  }

  // Replies go out on a channel without publisher confirms: a reply is transient, its caller
  // times out if it is lost, and a confirm per reply only costs the broker and this process.
  let replies: Channel | undefined;
  let replyChannel: ReturnType<Broker['createChannel']> | undefined;
  // Through the broker, which reopens it when RabbitMQ closed it; until it is set up again,
  // replies go out on the consuming channel.
  const openReplyChannel = () =>
    options.broker.createChannel(
      `${options.service}.rpc-replies`,
      (ch: Channel) => {
        ch.on('close', () => {
          if (replies === ch) replies = undefined;
        });
        replies = ch;
        return Promise.resolve();
      },
      { confirm: false },
    );

  async function handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const { reply, contract } = await answer(msg);
    const replyTo = msg.properties.replyTo as string | undefined;
    if (replyTo) {
      // By the caller's reply queue's binding on `psc.replies`: a reply-to naming any other
      // queue reaches nothing (the default exchange would have reached it).
      (replies ?? ch).publish(EXCHANGES.replies, replyTo, Buffer.from(JSON.stringify(reply)), {
        correlationId: msg.properties.correlationId as string,
        contentType: 'application/json',
        ...(contract === undefined ? {} : { headers: { [CONTRACT_HEADER]: contract } }),
      });
    }
    ch.ack(msg);
  }

  const topology = mergeTopologies(baseTopology, {
    exchanges: [],
    queues: [
      {
        name: queue,
        options: { durable: false, autoDelete: true },
        bindings: [...spec.bindings],
      },
    ],
  });

  const loop = createConsumeLoop({
    broker: options.broker,
    name: `${options.service}.rpc-server`,
    queue,
    topology,
    prefetch: options.prefetch ?? 20,
    logger: log,
    handle,
  });
  return {
    async start() {
      replyChannel ??= openReplyChannel();
      await loop.start();
    },
    async stop() {
      await loop.stop();
      await replyChannel?.close();
    },
    isConsuming: loop.isConsuming,
    queue: loop.queue,
  };
}
