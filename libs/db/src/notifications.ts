import type { Knex } from 'knex';
import type pg from 'pg';

/** Enough of a pino logger. */
interface ListenerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface NotificationListenerOptions {
  knex: Knex;
  /** The PostgreSQL channel (`NOTIFY <channel>`), an identifier of the service's own. */
  channel: string;
  logger: ListenerLogger;
  onNotification: (payload: string) => void;
  /**
   * Runs each time the listener is (again) listening, before it reports itself live: what was
   * notified while it was not listening is lost, so the caller reads the state it mirrors here.
   */
  onListening: () => Promise<void>;
  /** First pause before reconnecting (default 1 s), doubled up to 30 s. */
  retryMs?: number;
  /** How often the connection is checked while idle (default 30 s): a dead one is replaced. */
  pingMs?: number;
}

export interface NotificationListener {
  /** Resolves once listening, or after the first attempt failed (it then keeps trying). */
  start: () => Promise<void>;
  stop: () => Promise<void>;
  /** Listening now, and caught up (`onListening` done): no notification is being missed. */
  isLive: () => boolean;
}

const MAX_RETRY_MS = 30_000;

/**
 * A connection of its own, outside the pool (a pooled one would lose its LISTEN when released),
 * that hears `NOTIFY`s on one channel: how every replica of a service learns at once what one of
 * them stored. It reconnects with a growing pause when the connection fails, and re-reads what it
 * mirrors each time, so a replica that was away misses nothing for long; while it is not live,
 * callers ask the table instead.
 */
export function createNotificationListener(
  options: NotificationListenerOptions,
): NotificationListener {
  const retryMs = options.retryMs ?? 1_000;
  const pingMs = options.pingMs ?? 30_000;
  const log = options.logger;
  let client: pg.Client | undefined;
  let live = false;
  let stopping = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let ping: NodeJS.Timeout | undefined;

  const noop = () => undefined;

  const scheduleRetry = (reason: string) => {
    if (stopping) return;
    failures += 1;
    const pause = Math.min(MAX_RETRY_MS, retryMs * 2 ** (failures - 1));
    log.warn(
      { channel: options.channel, reason, retryInMs: pause },
      'notification listener lost; callers read the table until it is back',
    );
    retry = setTimeout(() => void connect(), pause);
    retry.unref();
  };

  /** Closes `conn` if it is still the listener's; `reason`, when given, schedules a reconnect. */
  const drop = (conn: pg.Client, reason?: string) => {
    if (client !== conn) return;
    client = undefined;
    live = false;
    if (ping) clearInterval(ping);
    conn.removeAllListeners();
    // Errors of a connection being dropped are not news.
    conn.on('error', noop);
    const ended = conn.end().catch(noop);
    if (reason !== undefined) scheduleRetry(reason);
    return ended;
  };

  const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

  async function connect(): Promise<void> {
    if (stopping) return;
    let next: pg.Client;
    try {
      // knex's own way to open a connection with the service's settings, outside the pool.
      const pool = options.knex.client as { acquireRawConnection(): Promise<pg.Client> };
      next = await pool.acquireRawConnection();
    } catch (err) {
      scheduleRetry(messageOf(err));
      return;
    }
    if (stopping) {
      await next.end().catch(noop);
      return;
    }
    client = next;
    next.on('error', (err: Error) => void drop(next, err.message));
    next.on('end', () => void drop(next, 'connection ended'));
    next.on('notification', (message: pg.Notification) => {
      if (message.channel === options.channel) options.onNotification(message.payload ?? '');
    });
    try {
      await next.query(`listen ${next.escapeIdentifier(options.channel)}`);
      await options.onListening();
    } catch (err) {
      await drop(next, messageOf(err));
      return;
    }
    if (client !== next) return;
    live = true;
    if (failures > 0) log.info({ channel: options.channel }, 'notification listener back');
    failures = 0;
    ping = setInterval(() => {
      next.query('select 1').catch((err: unknown) => void drop(next, messageOf(err)));
    }, pingMs);
    ping.unref();
  }

  return {
    async start() {
      stopping = false;
      await connect();
    },
    async stop() {
      stopping = true;
      if (retry) clearTimeout(retry);
      if (client) await drop(client);
    },
    isLive: () => live,
  };
}
