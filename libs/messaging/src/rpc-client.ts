import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import {
  EXCHANGES,
  QUEUES,
  rpcRoutingKey,
  type RpcDefinition,
  type RpcRequest,
  type RpcResponse,
  type ServiceName,
} from '@psc/contracts';
import { AppError, TimeoutError, UnavailableError, fromErrorBody } from '@psc/core';
import type { Broker } from './broker.ts';
import { throwawayChannel } from './queue-check.ts';
import { baseTopology, assertTopology } from './topology.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from './publisher.ts';
import { CONTRACT_HEADER, responseFingerprint } from './rpc-fingerprint.ts';

export interface RpcCallOptions {
  timeoutMs?: number;
  correlationId?: string;
}

/**
 * What an operation not naming `Caller` among its callers is asked to have, so passing it does
 * not compile: a service calls only what its broker login may send (broker-permissions.ts). A
 * caller that is no psc service (a test under an administrator's login) is not held to it.
 */
type CallerCheck<R extends RpcDefinition, Caller extends string> = Caller extends ServiceName
  ? Caller extends R['callers'][number]
    ? unknown
    : { readonly notACallerOfThisOperation: Caller }
  : unknown;

export interface RpcClient<Caller extends string> {
  call<R extends RpcDefinition>(
    definition: R & CallerCheck<R, Caller>,
    request: RpcRequest<R>,
    options?: RpcCallOptions,
  ): Promise<RpcResponse<R>>;
  /**
   * Like {@link RpcClient.call}, but resolves with the result as JSON text, to pass on as it is
   * (an HTTP response body): when the owner validated it against the caller's own contract, the
   * reply is neither parsed nor serialised again here.
   */
  relay<R extends RpcDefinition>(
    definition: R & CallerCheck<R, Caller>,
    request: RpcRequest<R>,
    options?: RpcCallOptions,
  ): Promise<Buffer>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (reply: ConsumeMessage) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply: requests go to `psc.calls` keyed `<owner>.<operation>`, replies come back
 * through `psc.replies` into an exclusive queue of this client's own (`<caller>.replies.<id>`,
 * a new one each time the channel is set up). Neither goes through the default exchange, so no
 * login needs to publish there. A request nobody can take (the owner's queue is gone) is
 * returned by the broker → 503; a request nobody answers in time → 504. Requests carry a TTL
 * equal to the timeout so a late service never works on an abandoned request.
 *
 * The hop is kept cheap: the request is serialised as given (the owner parses it with the
 * contract, and answers a 422 the caller rethrows), it is written straight to the channel without
 * waiting for its confirm (it is transient; an unroutable one comes back as a return, and one the
 * broker refuses — the owner's queue full with `reject-publish` — as a nack: a 503 at once, not
 * a timeout that blames the owner), and the reply is parsed once: a reply whose owner names the
 * same response contract as the caller's was already validated by the owner and is used as it
 * is; only a reply from an owner on another version of the contract is validated here.
 */
export function createRpcClient<Caller extends string>(options: {
  broker: Broker;
  /** The calling service (a test's name otherwise): names its reply queues and its requests. */
  appId: Caller;
  timeoutMs?: number;
  maxMessageBytes?: number;
}): RpcClient<Caller> {
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

  /** The live raw channel, for a synchronous write in the caller's own trace context. */
  let raw: ConfirmChannel | undefined;
  /** Where replies to this client come back now (a new queue whenever the channel is set up). */
  let replyQueue = '';
  // Through the broker, which also reopens the channel when RabbitMQ closed it (the connection
  // up): else every call would wait in the wrapper's queue and time out until a reconnect.
  const channel = options.broker.createChannel(
    `${options.appId}.rpc-client`,
    async (ch: ConfirmChannel) => {
      ch.on('close', () => {
        if (raw === ch) raw = undefined;
      });
      await assertTopology(ch, baseTopology, () => throwawayChannel(options.broker));
      ch.on('return', (msg: ConsumeMessage) => {
        const id = msg.properties.correlationId as string | undefined;
        // The routing key is `<owner>.<operation>`; service names have no dot.
        const owner = String(msg.fields.routingKey).split('.')[0];
        if (id) {
          settle(id, (p) => p.reject(new UnavailableError(`no ${owner} service is listening`)));
        }
      });
      const queue = `${QUEUES.replies(options.appId)}.${randomUUID()}`;
      await ch.assertQueue(queue, { exclusive: true, autoDelete: true, durable: false });
      await ch.bindQueue(queue, EXCHANGES.replies, queue);
      await ch.consume(
        queue,
        (msg) => {
          if (!msg) return;
          const id = msg.properties.correlationId as string | undefined;
          if (id) settle(id, (p) => p.resolve(msg));
        },
        { noAck: true },
      );
      replyQueue = queue;
      raw = ch;
    },
  );

  function publish(routingKey: string, body: Buffer, publishOptions: Options.Publish): void {
    const correlationId = publishOptions.correlationId ?? '';
    const write = (ch: ConfirmChannel) =>
      ch.publish(
        EXCHANGES.calls,
        routingKey,
        body,
        { ...publishOptions, replyTo: replyQueue },
        (err: unknown) => {
          // A nack (amqplib's words). A channel that closed first says so otherwise: the request
          // may have gone, so the call waits for its answer or its timeout.
          if (!(err instanceof Error) || err.message !== 'message nacked') return;
          const owner = routingKey.split('.')[0];
          settle(correlationId, (p) =>
            p.reject(
              new UnavailableError(
                `RabbitMQ refused the request to ${owner} (its queue is full or refuses publishes)`,
              ),
            ),
          );
        },
      );
    if (raw) {
      write(raw);
      return;
    }
    // Reconnecting: sent once the channel is set up again, with its new reply queue (the
    // continuation keeps the caller's trace context).
    channel
      .waitForConnect()
      .then(() => {
        if (!raw) throw new Error('channel closed');
        write(raw);
      })
      .catch((err: unknown) =>
        settle(correlationId, (p) =>
          p.reject(
            new UnavailableError(
              `cannot reach RabbitMQ: ${err instanceof Error ? err.message : ''}`,
            ),
          ),
        ),
      );
  }

  async function send(
    definition: RpcDefinition,
    request: unknown,
    callOptions: RpcCallOptions,
  ): Promise<ConsumeMessage> {
    const timeoutMs = callOptions.timeoutMs ?? defaultTimeout;
    const body = Buffer.from(JSON.stringify(request));
    if (body.length > maxBytes) throw new AppError('payload_too_large', 413, 'request too large');
    const correlationId = randomUUID();
    const reply = new Promise<ConsumeMessage>((resolve, reject) => {
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
    publish(rpcRoutingKey(definition), body, {
      mandatory: true,
      persistent: false,
      contentType: 'application/json',
      correlationId,
      messageId: correlationId,
      type: definition.type,
      expiration: String(timeoutMs),
      appId: options.appId,
      headers: callOptions.correlationId
        ? { 'x-psc-correlation-id': callOptions.correlationId }
        : {},
      timeout: timeoutMs,
    } as Options.Publish);
    return reply;
  }

  return {
    async call(definition, request, callOptions = {}) {
      const msg = await send(definition, request, callOptions);
      return readReply(definition, msg) as RpcResponse<typeof definition>;
    },
    async relay(definition, request, callOptions = {}) {
      const msg = await send(definition, request, callOptions);
      const raw = trustedResult(definition, msg);
      return raw ?? Buffer.from(JSON.stringify(readReply(definition, msg)));
    },
    async close() {
      for (const id of [...pending.keys()]) {
        settle(id, (p) => p.reject(new UnavailableError('rpc client closed')));
      }
      await channel.close();
    },
  };
}

/** How the owner's `JSON.stringify({ ok: true, result })` begins. */
const OK_PREFIX = Buffer.from('{"ok":true,"result":');

/**
 * The result's JSON text cut out of a successful reply the owner validated against this
 * caller's contract; undefined when the reply needs reading (an error, another contract).
 */
function trustedResult(definition: RpcDefinition, msg: ConsumeMessage): Buffer | undefined {
  const mine = responseFingerprint(definition);
  if (mine === undefined || msg.properties.headers?.[CONTRACT_HEADER] !== mine) return undefined;
  const content = msg.content;
  if (content.length <= OK_PREFIX.length + 1 || content[content.length - 1] !== 0x7d) {
    return undefined;
  }
  if (!content.subarray(0, OK_PREFIX.length).equals(OK_PREFIX)) return undefined;
  return content.subarray(OK_PREFIX.length, content.length - 1);
}

const badReply = (service: string): AppError =>
  new AppError('bad_reply', 502, `${service} sent a malformed reply`);

/** The result of a reply (`{ok: true, result}`), or its error (`{ok: false, error}`) thrown. */
function readReply(definition: RpcDefinition, msg: ConsumeMessage): unknown {
  let reply: unknown;
  try {
    reply = JSON.parse(msg.content.toString('utf8'));
  } catch {
    throw new AppError('bad_reply', 502, `${definition.service} sent an unreadable reply`);
  }
  if (reply === null || typeof reply !== 'object') throw badReply(definition.service);
  const { ok, result, error } = reply as { ok?: unknown; result?: unknown; error?: unknown };
  if (ok === false) {
    const e = error as { code?: unknown; message?: unknown; status?: unknown } | null;
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.code !== 'string' ||
      typeof e.message !== 'string' ||
      typeof e.status !== 'number'
    ) {
      throw badReply(definition.service);
    }
    throw fromErrorBody(e as Parameters<typeof fromErrorBody>[0]);
  }
  if (ok !== true) throw badReply(definition.service);
  const checkedWith = msg.properties.headers?.[CONTRACT_HEADER] as unknown;
  const mine = responseFingerprint(definition);
  if (mine !== undefined && checkedWith === mine) return result;
  const checked = definition.response.safeParse(result);
  if (!checked.success) {
    // The owner broke this caller's contract: a 502, not the caller's 422.
    throw new AppError('bad_reply', 502, `${definition.service} answered outside its contract`, {
      details: checked.error.issues.map((i) => ({
        path: i.path.join('.'),
        message: i.message,
      })),
    });
  }
  return checked.data;
}
