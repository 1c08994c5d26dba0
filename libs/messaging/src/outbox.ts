import { ROOT_CONTEXT, context, propagation } from '@opentelemetry/api';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Envelope } from '@psc/contracts';
import { delay } from '@psc/core';
import type { Publisher } from './publisher.ts';

export interface OutboxMessage {
  exchange: string;
  routingKey: string;
  envelope: Envelope<unknown>;
  priority?: number;
  headers?: Record<string, string | number>;
}

interface OutboxRow {
  seq: string;
  exchange: string;
  routing_key: string;
  body: Envelope<unknown>;
  priority: number | null;
  headers: Record<string, string | number>;
  trace: Record<string, string>;
}

/** Migration step: the outbox table inside a service's own schema. */
export async function createOutboxTable(knex: Knex, schema: string): Promise<void> {
  await knex.schema.withSchema(schema).createTable('outbox', (t) => {
    t.bigIncrements('seq').primary();
    t.text('exchange').notNullable();
    t.text('routing_key').notNullable();
    t.jsonb('body').notNullable();
    t.smallint('priority');
    t.jsonb('headers').notNullable().defaultTo('{}');
    t.jsonb('trace').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

/** Migration step: consumed message ids, for exactly-once effects of at-least-once delivery. */
export async function createInboxTable(knex: Knex, schema: string): Promise<void> {
  await knex.schema.withSchema(schema).createTable('inbox', (t) => {
    t.uuid('message_id').primary();
    t.timestamp('processed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

/**
 * Records `messageId` as processed inside `trx`. Returns false when it already was: the caller
 * then skips the effect and just acks the redelivered message.
 */
export async function markProcessed(
  trx: Knex.Transaction,
  schema: string,
  messageId: string,
): Promise<boolean> {
  const rows = await trx
    .withSchema(schema)
    .table('inbox')
    .insert({ message_id: messageId })
    .onConflict('message_id')
    .ignore()
    .returning('message_id');
  return rows.length > 0;
}

export type Emit = (message: OutboxMessage) => void;

export interface Outbox {
  /**
   * Runs `work` in a transaction; messages it emits are written to the outbox in the same
   * transaction and relayed after the commit. Nothing is published if the transaction fails.
   */
  transaction<T>(work: (trx: Knex.Transaction, emit: Emit) => Promise<T> | T): Promise<T>;
  /**
   * Stores messages that need no other state change with them, in one autocommitted statement
   * (atomic on its own, so no begin/commit round trips), and wakes the relay.
   *
   * `waitForFlush: false` commits without waiting for the WAL flush, for notices that a later,
   * durable commit of the same process supersedes (a job's `started` and `progressed` before its
   * outcome): PostgreSQL's WAL is sequential, so that later commit flushes this one too, and
   * only a database crash in between can lose it — when the job's own transaction is lost as
   * well and the job runs, and reports, again.
   */
  emit(messages: OutboxMessage[], options?: { waitForFlush?: boolean }): Promise<void>;
  /** Writes messages inside a transaction the caller owns; call `wake()` after it commits. */
  write(trx: Knex.Transaction, messages: OutboxMessage[]): Promise<void>;
  wake(): void;
  start(): void;
  /** Stops relaying after one last drain attempt. */
  stop(): Promise<void>;
  /** Rows not yet published (for status and tests). */
  pending(): Promise<number>;
}

export interface OutboxOptions {
  knex: Knex;
  schema: string;
  publisher: Publisher;
  logger: Logger;
  isBrokerConnected: () => boolean;
  pollIntervalMs?: number;
  batchSize?: number;
}

/**
 * Transactional outbox with a relay: state changes and the messages they cause commit together,
 * and the relay publishes with confirms, deleting a row only after its confirm. A crash between
 * confirm and delete republishes the same message id; consumers dedupe on it. Several replicas
 * can relay at once (SKIP LOCKED).
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const log = options.logger.child({ component: 'outbox' });
  const pollMs = options.pollIntervalMs ?? 250;
  const batchSize = options.batchSize ?? 200;
  const table = (q: Knex | Knex.Transaction): Knex.QueryBuilder =>
    q.withSchema(options.schema).table('outbox');
  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let woken = false;

  function toRow(message: OutboxMessage): Record<string, unknown> {
    const trace: Record<string, string> = {};
    propagation.inject(context.active(), trace);
    return {
      exchange: message.exchange,
      routing_key: message.routingKey,
      body: JSON.stringify(message.envelope),
      priority: message.priority ?? null,
      headers: JSON.stringify(message.headers ?? {}),
      trace: JSON.stringify(trace),
    };
  }

  async function publishRow(row: OutboxRow): Promise<void> {
    const parent = propagation.extract(ROOT_CONTEXT, row.trace);
    await context.with(parent, () =>
      options.publisher.publish(row.exchange, row.routing_key, row.body, {
        ...(row.priority !== null ? { priority: row.priority } : {}),
        headers: row.headers,
      }),
    );
  }

  /** Publishes one batch; returns how many rows it relayed. */
  async function drainOnce(): Promise<number> {
    return options.knex.transaction(async (trx) => {
      // The delete need not wait for its WAL flush: if a crash loses it, the rows are published
      // again with the same message ids, which consumers already dedupe (see above). This is
      // one flush less per relayed batch, on every job's path.
      await trx.raw('set local synchronous_commit = off');
      const rows = (await table(trx)
        .select('*')
        .orderBy('seq')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()) as OutboxRow[];
      if (rows.length === 0) return 0;
      const results = await Promise.allSettled(rows.map(publishRow));
      const done = rows.filter((_, i) => results[i]?.status === 'fulfilled').map((r) => r.seq);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (done.length > 0) await table(trx).whereIn('seq', done).delete();
      if (failed) {
        log.warn(
          { err: String(failed.reason), failed: rows.length - done.length },
          'outbox publish failed; will retry',
        );
      }
      return failed ? -1 : rows.length;
    });
  }

  async function idle(ms: number): Promise<void> {
    if (woken) {
      woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wakeUp = undefined;
    woken = false;
  }

  async function run(): Promise<void> {
    while (running) {
      if (!options.isBrokerConnected()) {
        await idle(pollMs);
        continue;
      }
      try {
        const n = await drainOnce();
        if (n === -1) await delay(1_000);
        else if (n < batchSize) await idle(pollMs);
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'outbox relay error');
        await delay(1_000);
      }
    }
  }

  return {
    async transaction(work) {
      const rows: Record<string, unknown>[] = [];
      const result = await options.knex.transaction(async (trx) => {
        // toRow at emit time: it captures the trace context the message was caused in
        const value = await work(trx, (m) => rows.push(toRow(m)));
        if (rows.length > 0) await table(trx).insert(rows);
        return value;
      });
      if (rows.length > 0) this.wake();
      return result;
    },
    async emit(messages, emitOptions = {}) {
      if (messages.length === 0) return;
      if (emitOptions.waitForFlush === false) {
        await options.knex.transaction(async (trx) => {
          await trx.raw('set local synchronous_commit = off');
          await table(trx).insert(messages.map(toRow));
        });
      } else {
        await table(options.knex).insert(messages.map(toRow));
      }
      this.wake();
    },
    async write(trx, messages) {
      if (messages.length > 0) await table(trx).insert(messages.map(toRow));
    },
    wake() {
      woken = true;
      wakeUp?.();
    },
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      if (!running) return;
      running = false;
      wakeUp?.();
      await loop;
      if (options.isBrokerConnected()) {
        await drainOnce().catch(() => undefined);
      }
    },
    async pending() {
      const [row] = (await table(options.knex).count<{ count: string }[]>('* as count')) as {
        count: string;
      }[];
      return Number(row?.count ?? 0);
    },
  };
}
