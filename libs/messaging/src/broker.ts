import amqp, {
  type AmqpConnectionManager,
  type ChannelWrapper,
  type SetupFunc,
} from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { restoreContextOnChannel } from './trace-context.ts';
import { amqpSocket, coalesceWrites } from './write-coalescing.ts';

export interface BrokerOptions {
  url: string;
  /** Shown in the management UI's connection list. */
  connectionName: string;
  logger: Logger;
  heartbeatSeconds?: number;
}

/**
 * One AMQP connection per process, reconnecting on its own. Every channel made through it has
 * the trace-context fix installed before any other setup runs.
 */
export interface Broker {
  readonly connection: AmqpConnectionManager;
  isConnected(): boolean;
  /**
   * A confirm channel whose `setup` re-runs on every reconnect and whenever the broker closed it.
   * With `confirm: false` it is a plain channel (the setup then takes it as a `Channel`).
   */
  createChannel(
    name: string,
    setup: (channel: ConfirmChannel) => Promise<void>,
    options?: { confirm?: boolean },
  ): ChannelWrapper;
  /** Throws when the broker is not connected; for `/ready`. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * While RabbitMQ cannot be reached, a warning this often at most (it is tried every second): an
 * operator sees why a service that started is not working, without a line a second.
 */
const CONNECT_WARN_EVERY_MS = 30_000;

/** How soon a channel the broker closed (with the connection still up) is opened again. */
const CHANNEL_REOPEN_MS = 1_000;

export function createBroker(options: BrokerOptions): Broker {
  const log = options.logger.child({ component: 'broker' });
  const connection = amqp.connect([options.url], {
    heartbeatIntervalInSeconds: options.heartbeatSeconds ?? 10,
    reconnectTimeInSeconds: 1,
    connectionOptions: {
      clientProperties: { connection_name: options.connectionName },
      // amqplib leaves Nagle's algorithm on: a frame written while the previous one is unacked
      // waits for RabbitMQ's delayed ACK, 40 ms per request/reply round trip (a 1,000,000-row
      // CSV export took 55 s instead of 20 s). Every psc message is latency-bound.
      noDelay: true,
    },
  });
  let wasConnected = false;
  /** Counts disconnects, so a channel reopen can tell that a reconnect took over meanwhile. */
  let disconnects = 0;
  /** Since when connecting fails, and when that was last said at warn level. */
  let failingSince: number | undefined;
  let warnedAt = 0;
  connection.on('connect', ({ connection: model }) => {
    // Before any channel of this connection is set up (they listen for the same event later).
    const socket = amqpSocket(model);
    if (socket) coalesceWrites(socket);
    else log.warn('AMQP socket not found: frames are written one system call each');
    wasConnected = true;
    const failedForMs = failingSince === undefined ? undefined : Date.now() - failingSince;
    failingSince = undefined;
    warnedAt = 0;
    log.info(failedForMs === undefined ? {} : { failedForMs }, 'connected to RabbitMQ');
  });
  connection.on('disconnect', ({ err }) => {
    disconnects += 1;
    if (!wasConnected) return;
    warnedAt = Date.now();
    log.warn({ err: err?.message }, 'disconnected from RabbitMQ; reconnecting');
  });
  connection.on('connectFailed', ({ err }) => {
    const now = Date.now();
    failingSince ??= now;
    // The message is amqplib's (ECONNREFUSED, ACCESS_REFUSED…): it never holds the URL.
    const fields = { err: err.message, failingForMs: now - failingSince };
    if (now - warnedAt < CONNECT_WARN_EVERY_MS) {
      log.debug(fields, 'connect failed');
      return;
    }
    warnedAt = now;
    log.warn(fields, 'cannot connect to RabbitMQ; retrying every second');
  });
  connection.on('blocked', ({ reason }) => log.warn({ reason }, 'RabbitMQ blocked the connection'));

  return {
    connection,
    isConnected: () => connection.isConnected(),
    createChannel(name, setup, channelOptions = {}) {
      let closing = false;
      let reopenTimer: NodeJS.Timeout | undefined;
      // amqp-connection-manager only makes a new channel when the whole connection reconnects,
      // so a channel the broker closed on its own (a consumer timeout, a refused declaration)
      // would stay closed while the connection — and /ready — look fine. Reopen it here.
      const reopen = (): void => {
        if (closing || reopenTimer) return;
        // A connection that dies closes its channels first and only then says it is gone: the
        // reconnect makes their new channels, so a reopen across a disconnect is dropped (it
        // could race that reconnect and open a second channel).
        const seen = disconnects;
        reopenTimer = setTimeout(() => {
          reopenTimer = undefined;
          const internal = wrapper as unknown as {
            _channel?: unknown;
            _onConnect(arg: { connection: unknown }): Promise<void>;
          };
          if (closing || internal._channel || seen !== disconnects || !connection.isConnected())
            return;
          log.warn({ channel: name }, 'channel closed by the broker; reopening');
          void internal._onConnect({ connection: connection.connection });
        }, CHANNEL_REOPEN_MS);
        reopenTimer.unref();
      };
      const wrapped: SetupFunc = async (channel: ConfirmChannel) => {
        restoreContextOnChannel(channel);
        // A channel error (e.g. a 406 on a queue argument) must not crash the process.
        channel.on('error', (err: Error) =>
          log.error({ err: err.message, channel: name }, 'channel error'),
        );
        channel.on('close', () => {
          if (connection.isConnected()) reopen();
        });
        await setup(channel);
      };
      const wrapper = connection.createChannel({
        name,
        confirm: channelOptions.confirm ?? true,
        json: false,
        setup: wrapped,
      });
      wrapper.on('error', (err: Error) => {
        log.error({ err: err.message, channel: name }, 'channel setup failed');
        reopen();
      });
      wrapper.on('close', () => {
        closing = true;
        if (reopenTimer) clearTimeout(reopenTimer);
      });
      return wrapper;
    },
    check: () =>
      connection.isConnected()
        ? Promise.resolve()
        : Promise.reject(new Error('RabbitMQ not connected')),
    async close() {
      await connection.close();
    },
  };
}
