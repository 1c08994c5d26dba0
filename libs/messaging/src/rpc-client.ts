import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  EXCHANGES,
  rpcReply,
  type RpcDefinition,
  type RpcRequest,
  type RpcResponse,
} from '@psc/contracts';
import {
  AppError,
  TimeoutError,
  UnavailableError,
  ValidationError,
  fromErrorBody,
} from '@psc/core';
import type { Broker } from './broker.ts';
import { baseTopology, assertTopology } from './topology.ts';
import { withPublishContext } from './trace-context.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from './publisher.ts';

const REPLY_TO = 'amq.rabbitmq.reply-to';

export interface RpcCallOptions {
  timeoutMs?: number;
  correlationId?: string;
}

export interface RpcClient {
  call<R extends RpcDefinition>(
    definition: R,
    request: RpcRequest<R>,
    options?: RpcCallOptions,
  ): Promise<RpcResponse<R>>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (reply: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply over direct reply-to. A request nobody can take (the service's queue is gone) is
 * returned by the broker → 503; a request nobody answers in time → 504. Requests carry a TTL
 * equal to the timeout so a late service never works on an abandoned request.
 */
export function createRpcClient(options: {
  broker: Broker;
  appId: string;
  timeoutMs?: number;
  maxMessageBytes?: number;
}): RpcClient {
  const pending = new Map<string, Pending>();
  const defaultTimeout = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;

  const settle = (correlationId: string, fn: (p: Pending) => void): void => {
    const p = pending.get(correlationId);
    if (!p) return;
    pending.delete(correlationId);
    clearTimeout(p.timer);
    fn(p);
  };

  const channel = options.broker.createChannel(
    `${options.appId}.rpc-client`,
    async (ch: ConfirmChannel) => {
      await assertTopology(ch, baseTopology);
      ch.on('return', (msg: ConsumeMessage) => {
        const id = msg.properties.correlationId as string | undefined;
        if (id) {
          settle(id, (p) =>
            p.reject(
              new UnavailableError(`no ${String(msg.fields.routingKey)} service is listening`),
            ),
          );
        }
      });
      await ch.consume(
        REPLY_TO,
        (msg) => {
          if (!msg) return;
          const id = msg.properties.correlationId as string | undefined;
          if (!id) return;
          settle(id, (p) => {
            try {
              p.resolve(JSON.parse(msg.content.toString('utf8')));
            } catch {
              p.reject(new AppError('bad_reply', 502, 'service sent an unreadable reply'));
            }
          });
        },
        { noAck: true },
      );
    },
  );

  return {
    async call(definition, request, callOptions = {}) {
      const timeoutMs = callOptions.timeoutMs ?? defaultTimeout;
      const checked = definition.request.safeParse(request);
      if (!checked.success) {
        const first = checked.error.issues[0];
        throw new ValidationError(
          `${first?.path.join('.') || 'request'}: ${first?.message ?? 'invalid'}`,
          checked.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        );
      }
      const body = Buffer.from(JSON.stringify(checked.data));
      if (body.length > maxBytes) throw new AppError('payload_too_large', 413, 'request too large');
      const correlationId = randomUUID();
      const reply = new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          settle(correlationId, (p) =>
            p.reject(
              new TimeoutError(
                `${definition.service} did not answer ${definition.type} in ${timeoutMs} ms`,
              ),
            ),
          );
        }, timeoutMs);
        pending.set(correlationId, { resolve, reject, timer });
      });
      channel
        .publish(
          EXCHANGES.rpc,
          definition.service,
          body,
          withPublishContext({
            mandatory: true,
            persistent: false,
            contentType: 'application/json',
            correlationId,
            messageId: correlationId,
            type: definition.type,
            replyTo: REPLY_TO,
            expiration: String(timeoutMs),
            appId: options.appId,
            headers: callOptions.correlationId
              ? { 'x-psc-correlation-id': callOptions.correlationId }
              : {},
            timeout: timeoutMs,
          }),
        )
        .catch((err: unknown) =>
          settle(correlationId, (p) =>
            p.reject(
              new UnavailableError(
                `cannot reach RabbitMQ: ${err instanceof Error ? err.message : ''}`,
              ),
            ),
          ),
        );
      const parsed = rpcReply.safeParse(await reply);
      if (!parsed.success) {
        throw new AppError('bad_reply', 502, `${definition.service} sent a malformed reply`);
      }
      if (!parsed.data.ok) throw fromErrorBody(parsed.data.error);
      const result = definition.response.safeParse(parsed.data.result);
      if (!result.success) {
        // The service broke its own contract: a 502, not the caller's 422.
        throw new AppError(
          'bad_reply',
          502,
          `${definition.service} answered outside its contract`,
          {
            details: result.error.issues.map((i) => ({
              path: i.path.join('.'),
              message: i.message,
            })),
          },
        );
      }
      return result.data as RpcResponse<typeof definition>;
    },
    async close() {
      for (const id of [...pending.keys()]) {
        settle(id, (p) => p.reject(new UnavailableError('rpc client closed')));
      }
      await channel.close();
    },
  };
}
