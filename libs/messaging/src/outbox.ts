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

export type Emit = (message: OutboxMessage) => void;

export interface Outbox {
  /**
   * Runs `work` in a transaction; messages it emits are written to the outbox in the same
   * transaction and published after the commit. Nothing is published if the transaction fails.
   */
  transaction<T>(work: (trx: Knex.Transaction, emit: Emit) => Promise<T> | T): Promise<T>;
  /**
   * Writes messages inside a transaction the caller owns; they are published once it commits
   * (and never if it rolls back).
   */
  write(trx: Knex.Transaction, messages: OutboxMessage[]): Promise<void>;
  /** Stores messages that need no other state change with them, in one autocommitted insert. */
  emit(messages: OutboxMessage[]): Promise<void>;
  start(): void;
  /** Stops relaying after one last attempt at what is left. */
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
  /** How often rows the fast path did not publish are looked for. */
  pollIntervalMs?: number;
  /** Rows at least this old are taken by the sweep (any replica's). */
  sweepAgeMs?: number;
  batchSize?: number;
}

/**
 * Transactional outbox. A message is inserted in the transaction of the state change that
 * causes it; after the commit the relay publishes it straight from memory (no re-read) with a
 * confirm and then deletes the row. Rows whose publish failed, or whose process died first, are
 * found by a sweep of rows older than `sweepAgeMs`, by whichever replica gets there first (SKIP
 * LOCKED). A crash between confirm and delete publishes the same message id again; consumers
 * are idempotent.
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const log = options.logger.child({ component: 'outbox' });
  const pollMs = options.pollIntervalMs ?? 1_000;
  const sweepAgeMs = options.sweepAgeMs ?? 5_000;
  const batchSize = options.batchSize ?? 500;
  const table = (q: Knex | Knex.Transaction): Knex.QueryBuilder =>
    q.withSchema(options.schema).table('outbox');
  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let woken = false;
  /** Committed rows this process publishes from memory. */
  let fresh: OutboxRow[] = [];
  /** Seqs being published from memory now: the sweep leaves them alone. */
  const publishing = new Set<string>();

  function toRow(message: OutboxMessage): Omit<OutboxRow, 'seq'> {
    const trace: Record<string, string> = {};
    propagation.inject(context.active(), trace);
    return {
      exchange: message.exchange,
      routing_key: message.routingKey,
      body: message.envelope,
      priority: message.priority ?? null,
      headers: message.headers ?? {},
      trace,
    };
  }

  async function insert(q: Knex | Knex.Transaction, messages: OutboxMessage[]) {
    const rows = messages.map(toRow);
    const seqs: { seq: string }[] = [];
    // PostgreSQL allows 65,535 bind parameters per statement: 6 columns a row.
    for (let i = 0; i < rows.length; i += 5_000) {
      const chunk = rows.slice(i, i + 5_000);
      const inserted = await table(q)
        .insert(
          chunk.map((r) => ({
            ...r,
            body: JSON.stringify(r.body),
            headers: JSON.stringify(r.headers),
            trace: JSON.stringify(r.trace),
          })),
        )
        .returning<{ seq: string }[]>('seq');
      seqs.push(...inserted);
    }
    return rows.map((r, i): OutboxRow => ({ ...r, seq: String(seqs[i]!.seq) }));
  }

  function committed(rows: OutboxRow[]): void {
    if (rows.length === 0) return;
    for (const r of rows) fresh.push(r);
    woken = true;
    wakeUp?.();
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

  async function deleteRows(seqs: string[]): Promise<void> {
    if (seqs.length === 0) return;
    await options.knex.transaction(async (trx) => {
      // A lost delete only publishes the message again, which consumers tolerate: no need to
      // wait for the WAL flush.
      await trx.raw('set local synchronous_commit = off');
      await table(trx).whereIn('seq', seqs).delete();
    });
  }

  /** Publishes rows concurrently; returns the seqs confirmed, and whether any failed. */
  async function publishAll(rows: OutboxRow[]): Promise<{ done: string[]; failed: unknown }> {
    const results = await Promise.allSettled(rows.map(publishRow));
    const done = rows.filter((_, i) => results[i]?.status === 'fulfilled').map((r) => r.seq);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      log.warn(
        { err: String(failed.reason), failed: rows.length - done.length },
        'outbox publish failed; will retry',
      );
    }
    return { done, failed: failed?.reason };
  }

  async function relayFresh(): Promise<boolean> {
    const batch = fresh.slice(0, batchSize);
    fresh = fresh.slice(batch.length);
    for (const r of batch) publishing.add(r.seq);
    try {
      const { done, failed } = await publishAll(batch);
      await deleteRows(done);
      return failed === undefined;
    } finally {
      for (const r of batch) publishing.delete(r.seq);
    }
  }

  /** Publishes rows nobody published yet: after a failure, a crash, or another replica's. */
  async function sweep(): Promise<number> {
    return options.knex.transaction(async (trx) => {
      await trx.raw('set local synchronous_commit = off');
      const query = table(trx)
        .select('*')
        .where('created_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [sweepAgeMs / 1000]))
        .orderBy('seq')
        .limit(batchSize)
        .forUpdate()
        .skipLocked();
      if (publishing.size > 0) void query.whereNotIn('seq', [...publishing]);
      const rows = (await query) as OutboxRow[];
      if (rows.length === 0) return 0;
      const { done, failed } = await publishAll(rows.map((r) => ({ ...r, seq: String(r.seq) })));
      if (done.length > 0) await table(trx).whereIn('seq', done).delete();
      return failed === undefined ? rows.length : -1;
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
    let nextSweep = 0;
    while (running) {
      if (!options.isBrokerConnected()) {
        await idle(pollMs);
        continue;
      }
      try {
        if (fresh.length > 0) {
          if (!(await relayFresh())) await delay(1_000);
          continue;
        }
        if (Date.now() >= nextSweep) {
          const n = await sweep();
          if (n === -1) await delay(1_000);
          if (n === batchSize) continue;
          nextSweep = Date.now() + pollMs;
        }
        await idle(Math.max(0, nextSweep - Date.now()));
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'outbox relay error');
        await delay(1_000);
      }
    }
  }

  return {
    async transaction(work) {
      return options.knex.transaction(async (trx) => {
        const messages: OutboxMessage[] = [];
        const value = await work(trx, (m) => messages.push(m));
        await this.write(trx, messages);
        return value;
      });
    },
    async write(trx, messages) {
      if (messages.length === 0) return;
      const rows = await insert(trx, messages);
      trx.executionPromise.then(
        () => committed(rows),
        () => undefined, // rolled back: nothing to publish
      );
    },
    async emit(messages) {
      if (messages.length === 0) return;
      committed(await insert(options.knex, messages));
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
      // What is left after a failure stays in the table for the next sweep of any replica.
      while (options.isBrokerConnected() && fresh.length > 0) {
        if (!(await relayFresh().catch(() => false))) break;
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
