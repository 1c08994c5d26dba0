import { ROOT_CONTEXT, context, propagation } from '@opentelemetry/api';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import {
  BUNDLED_TYPES,
  EXCHANGES,
  HEADERS,
  outboxParked,
  type Envelope,
  type OutboxOwner,
} from '@psc/contracts';
import { delay } from '@psc/core';
import { bundleTracesHeader, carrierInTrace, propagatesTraces } from './trace-carriers.ts';
import { createHold } from './hold.ts';
import { isBrokerPushback, MessageTooLargeError } from './errors.ts';
import { rpcHandler, type RpcHandler } from './rpc-server.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, type Publisher } from './publisher.ts';

export interface OutboxMessage {
  exchange: string;
  routingKey: string;
  envelope: Envelope<unknown>;
  priority?: number;
  headers?: Record<string, string | number>;
  /**
   * The W3C trace id the message belongs to, when not the writer's (see `carrierInTrace`): a
   * job's `job.run` is published in the job's trace, whichever request or tick wrote it.
   */
  traceId?: string;
  /**
   * The W3C `traceparent` to publish it under, a span this process recorded in the message's
   * trace (`startSpanInTrace`), instead of the writer's context: the job's trace stays one tree.
   */
  traceParent?: string;
}

interface OutboxRow {
  seq: string;
  attempts?: number;
  exchange: string;
  routing_key: string;
  body: Envelope<unknown>;
  priority: number | null;
  headers: Record<string, string | number>;
  trace: Record<string, string>;
  /** `body` serialised, for rows this process stored: published as it is. */
  text?: string;
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

/**
 * Migration step: what the relay needs to give up on a row instead of retrying it forever —
 * the tries each row has had, and the table rows it gave up on are parked in, for operators
 * (`GET /api/v1/monitoring/outbox`).
 */
export async function createOutboxParking(knex: Knex, schema: string): Promise<void> {
  await knex.schema.withSchema(schema).alterTable('outbox', (t) => {
    t.integer('attempts').notNullable().defaultTo(0);
  });
  await knex.schema.withSchema(schema).createTable('outbox_parked', (t) => {
    t.bigInteger('seq').primary();
    t.text('exchange').notNullable();
    t.text('routing_key').notNullable();
    t.jsonb('body').notNullable();
    t.text('reason').notNullable();
    t.integer('attempts').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('parked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

/** A message the relay gave up on, as operators see it. */
export interface ParkedMessage {
  seq: string;
  exchange: string;
  routingKey: string;
  type: string;
  messageId: string;
  reason: string;
  attempts: number;
  createdAt: string;
  parkedAt: string;
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
  /**
   * Stores messages in one autocommitted statement (no transaction: one round trip), published
   * once it returns. Alone, the statement only inserts them. With `statement`, it is the
   * caller's own, so a state change that needs nothing else goes in atomically with its
   * messages: the caller puts `part.cte` in its WITH list (after any CTE `patch` reads) with
   * `part.bindings` where its placeholders fall among its own, runs it, and returns what it
   * selected as `part.seqs`.
   */
  emit(
    messages: OutboxMessage[],
    statement?: (part: OutboxPart) => Promise<(string | number)[] | null>,
    patch?: OutboxBodyPatch,
  ): Promise<void>;
  /**
   * Writes messages inside `trx` as part of the caller's own statement instead of one of their
   * own: a round trip less on a hot path. The caller puts `cte` first in its WITH list with
   * `bindings` first among its own, selects `seqs` as a column named `outbox_seqs`, and hands
   * that value to `inserted` (published once `trx` commits, as with `write`). Undefined when
   * there is nothing to write.
   */
  along(trx: Knex.Transaction, messages: OutboxMessage[]): OutboxAlong | undefined;
  start(): void;
  /** Stops relaying after one last attempt at what is left. */
  stop(): Promise<void>;
  /** Rows not yet published (for status and tests). */
  pending(): Promise<number>;
  /** Seconds since the oldest row not yet published was written; 0 when there is none. */
  oldestAgeSeconds(): Promise<number>;
  /** Rows the relay gave up on, newest first. */
  parked(limit: number): Promise<ParkedMessage[]>;
}

/** The outbox's part of a caller's statement: a CTE, its bindings, and its seqs' expression. */
export interface OutboxPart {
  cte: string;
  bindings: Knex.RawBinding[];
  seqs: string;
}

/**
 * A value only the caller's statement knows (counts of what it wrote), set into one message's
 * body as the row is stored: `sql`, a jsonb expression over the statement's earlier CTEs, goes
 * at `path` of `messages[index]`'s envelope. The relay publishes the envelope it holds, so the
 * caller sets the same value there before its statement's promise resolves.
 */
export interface OutboxBodyPatch {
  index: number;
  path: readonly string[];
  sql: string;
}

export interface OutboxAlong extends OutboxPart {
  inserted(seqs: (string | number)[]): void;
}

export interface OutboxOptions {
  knex: Knex;
  schema: string;
  publisher: Publisher;
  logger: Logger;
  isBrokerConnected: () => boolean;
  /** How often rows the fast path did not publish are looked for. */
  pollIntervalMs?: number;
  /**
   * How long confirmed rows gather before one statement deletes them all (default 100 ms; at
   * once when `batchSize` are waiting).
   */
  deleteDelayMs?: number;
  /** Rows at least this old are taken by the sweep (any replica's). */
  sweepAgeMs?: number;
  batchSize?: number;
  /**
   * Publishes a row may fail before it is parked (a message too large is parked at once; one the
   * broker refused — a nack, no confirm in time — or that failed with the broker away is not
   * counted: that is the broker's state, not the row's).
   */
  maxAttempts?: number;
  /** The broker's largest message; a bigger one is refused when it is written. */
  maxMessageBytes?: number;
  /**
   * Under load, how long events of a bundled type (`BUNDLED_TYPES`) wait for others to go with
   * them as one message (default 20 ms; 0 sends each alone). See `relayFresh`.
   */
  bundleMs?: number;
}

/** The most envelopes the relay puts in one bundle. */
const MAX_BUNDLE_ROWS = 100;

/**
 * Transactional outbox. A message is inserted in the transaction of the state change that
 * causes it; after the commit the relay publishes it straight from memory (no re-read) with a
 * confirm and then deletes the row, with the others confirmed within `deleteDelayMs`, in one
 * statement. Rows whose publish failed, or whose process died first, are found by a sweep of rows
 * older than `sweepAgeMs`, by whichever replica gets there first (SKIP LOCKED). A crash between
 * confirm and delete publishes the same message id again; consumers are idempotent.
 */
/**
 * How a relay round went: every publish confirmed; some failed on their own (unroutable: the
 * rows' fault, counted toward parking); or RabbitMQ pushed back (a nack, no confirm in time),
 * which is the broker's state and meets every publish alike.
 */
type Round = 'published' | 'failed' | 'refused';

const roundOf = (failures: readonly { reason: unknown }[]): Round =>
  failures.length === 0
    ? 'published'
    : failures.some((f) => isBrokerPushback(f.reason))
      ? 'refused'
      : 'failed';

/** The pause after a round in which rows failed on their own. */
const ROW_RETRY_MS = 1_000;

export function createOutbox(options: OutboxOptions): Outbox {
  const log = options.logger.child({ component: 'outbox' });
  const pollMs = options.pollIntervalMs ?? 1_000;
  const sweepAgeMs = options.sweepAgeMs ?? 5_000;
  const deleteDelayMs = options.deleteDelayMs ?? 100;
  const batchSize = options.batchSize ?? 500;
  const maxAttempts = options.maxAttempts ?? 10;
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const bundleMs = options.bundleMs ?? 20;
  /**
   * The relay's pause after a failed round: 1 s, doubling while rounds fail, up to 10 s, so a
   * broker that refuses every publish is not sent the whole backlog again every second.
   */
  const backoff = createHold(1_000, 10_000);
  /** Ends a pause at once when the relay stops. */
  let endPause: (() => void) | undefined;
  /** When the relay last published a bundleable row (see `relayFresh`). */
  let lastBundleAt = 0;
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
  /**
   * Seqs published and confirmed but not deleted yet: deleted together, deleteDelayMs after the
   * first of them, by one statement of their own. The sweep leaves these alone too.
   */
  const confirmed = new Set<string>();
  /** Seqs whose delete is running: back to `confirmed` if it fails. */
  const deletingSeqs = new Set<string>();
  let deleteTimer: NodeJS.Timeout | undefined;
  let deleting: Promise<void> | undefined;
  /**
   * Seqs the sweep published lately. A row can become visible to the sweep's select a moment
   * before its own commit callback puts it in `fresh`; this is how that callback knows the row
   * is already out (bounded: only the last few thousand matter).
   */
  const swept = new Set<string>();
  const SWEPT_MEMORY = 10_000;

  function toRow(message: OutboxMessage, tracing: boolean): Omit<OutboxRow, 'seq'> {
    const own: Record<string, string> = {};
    propagation.inject(context.active(), own);
    const trace =
      tracing && message.traceParent
        ? { traceparent: message.traceParent }
        : message.traceId
          ? carrierInTrace(own, message.traceId, tracing)
          : own;
    return {
      exchange: message.exchange,
      routing_key: message.routingKey,
      body: message.envelope,
      priority: message.priority ?? null,
      headers: message.headers ?? {},
      trace,
    };
  }

  /**
   * The envelopes as the rows store them, each refused here, in the caller's transaction, with
   * a clear error if the broker would refuse it: such a message must never wait in the outbox to
   * be retried forever.
   */
  function checkedBodies(messages: OutboxMessage[]): string[] {
    return messages.map((m) => {
      const body = JSON.stringify(m.envelope);
      const size = Buffer.byteLength(body);
      if (size > maxBytes) throw new MessageTooLargeError(size, maxBytes);
      return body;
    });
  }

  /** The columns of the rows' document, as `jsonb_to_recordset` reads them. */
  const ROW_COLUMNS =
    'exchange text, routing_key text, body jsonb, priority smallint, headers jsonb, trace jsonb';

  /** The rows of `insertion`, one of them with its body patched (see {@link OutboxBodyPatch}). */
  function patchedRows(patch: OutboxBodyPatch): string {
    // Written into the text (the statement is prepared once per text): checked first.
    if (!Number.isInteger(patch.index) || patch.index < 0) throw new Error('bad patch index');
    if (!patch.path.every((p) => /^[A-Za-z0-9_]+$/.test(p))) throw new Error('bad patch path');
    return `select m.exchange, m.routing_key,
               case when m.ord = ${patch.index + 1}
                    then jsonb_set(m.body, '{${patch.path.join(',')}}', ${patch.sql}) else m.body end,
               m.priority, m.headers, m.trace
          from rows from (jsonb_to_recordset(?::jsonb) as (${ROW_COLUMNS})) with ordinality
               as m(exchange, routing_key, body, priority, headers, trace, ord)
         order by m.ord`;
  }

  /**
   * The rows as one JSON array, each body spliced in as serialised once already: a single
   * parameter PostgreSQL parses once, where six arrays (the bodies escaped into an array literal,
   * then each parsed again as jsonb) cost 40 % more for a tick's 10,000 runs.
   */
  function rowsDocument(rows: Omit<OutboxRow, 'seq'>[], bodies: string[]): string {
    return `[${rows
      .map(
        (r, i) =>
          `{"exchange":${JSON.stringify(r.exchange)},"routing_key":${JSON.stringify(r.routing_key)},"body":${bodies[i]},"priority":${r.priority ?? 'null'},"headers":${JSON.stringify(r.headers)},"trace":${JSON.stringify(r.trace)}}`,
      )
      .join(',')}]`;
  }

  /**
   * The one way rows are written: a CTE inserting them from one JSON document (one bind
   * parameter however many rows), for a statement of its own or for the caller's (`along`).
   */
  function insertion(messages: OutboxMessage[], patch?: OutboxBodyPatch) {
    const bodies = checkedBodies(messages);
    const tracing = propagatesTraces(propagation.fields());
    const rows = messages.map((m) => toRow(m, tracing));
    return {
      rows,
      // Rows in the order given: nextval runs in the order the document's rows come.
      cte: `outbox_rows as (
        insert into ${options.schema}.outbox (exchange, routing_key, body, priority, headers, trace)
        ${patch ? patchedRows(patch) : `select * from jsonb_to_recordset(?::jsonb) as m(${ROW_COLUMNS})`}
        returning seq)`,
      bindings: [rowsDocument(rows, bodies)],
      seqs: '(select array_agg(seq order by seq) from outbox_rows)',
      stored: (seqs: (string | number)[]): OutboxRow[] => {
        if (seqs.length !== rows.length) throw new Error('outbox rows and seqs differ in number');
        return rows.map((r, i): OutboxRow => ({
          ...r,
          seq: String(seqs[i]),
          // A patched body is set by the caller by now (see OutboxBodyPatch): once more.
          text: i === patch?.index ? JSON.stringify(r.body) : bodies[i]!,
        }));
      },
    };
  }

  async function insert(q: Knex | Knex.Transaction, messages: OutboxMessage[]) {
    const { cte, bindings, seqs, stored } = insertion(messages);
    const { rows } = await q.raw<{ rows: { outbox_seqs: string[] }[] }>(
      `with ${cte} select ${seqs} as outbox_seqs`,
      bindings,
    );
    return stored(rows[0]?.outbox_seqs ?? []);
  }

  /** Hands `rows` to the relay once `trx` commits; a rollback publishes nothing. */
  function afterCommit(trx: Knex.Transaction, rows: OutboxRow[]): void {
    trx.executionPromise.then(
      () => committed(rows),
      () => undefined,
    );
  }

  function committed(rows: OutboxRow[]): void {
    if (rows.length === 0) return;
    for (const r of rows) if (!swept.delete(r.seq)) fresh.push(r);
    woken = true;
    wakeUp?.();
  }

  /**
   * One message: a row, or a bundle of rows, published in the first one's trace context; a
   * bundle names every row's own in a header, so each event's consumer span joins its trace.
   */
  async function publishRow(rows: OutboxRow[]): Promise<void> {
    const row = rows[0]!;
    const parent = propagation.extract(ROOT_CONTEXT, row.trace);
    const traces = rows.length > 1 ? bundleTracesHeader(rows.map((r) => r.trace)) : undefined;
    const publishOptions = {
      ...(row.priority !== null ? { priority: row.priority } : {}),
      headers: traces ? { ...row.headers, [HEADERS.bundleTraces]: traces } : row.headers,
      serialised: rows.length === 1 ? row.text : rows.map((r) => r.text),
    };
    await context.with(parent, () =>
      rows.length === 1
        ? options.publisher.publish(row.exchange, row.routing_key, row.body, publishOptions)
        : options.publisher.publishBundle(
            row.exchange,
            row.routing_key,
            rows.map((r) => r.body),
            publishOptions,
          ),
    );
  }

  async function deleteRows(seqs: string[]): Promise<void> {
    if (seqs.length === 0) return;
    // One round trip: a lost delete only publishes the message again, which consumers
    // tolerate, so the commit need not wait for the WAL flush. Seqs are PostgreSQL's own
    // bigints, checked, so the list is written into the text (a simple query holds several
    // statements; one with bind parameters cannot).
    if (!seqs.every((s) => /^[0-9]+$/.test(s))) throw new Error('outbox seqs must be integers');
    await options.knex.raw(
      `begin; set local synchronous_commit = off;
       delete from ${options.schema}.outbox where seq = any('{${seqs.join(',')}}'::bigint[]);
       commit`,
    );
  }

  /**
   * Publishes messages (each a row, or a bundle of rows) concurrently; returns the seqs
   * confirmed and the rows that failed, why.
   */
  async function publishAll(messages: OutboxRow[][]) {
    const results = await Promise.allSettled(messages.map(publishRow));
    const done = messages
      .filter((_, i) => results[i]?.status === 'fulfilled')
      .flatMap((rows) => rows.map((r) => r.seq));
    const failures = messages.flatMap((rows, i) => {
      const r = results[i];
      return r?.status === 'rejected'
        ? rows.map((row) => ({ row, reason: r.reason as unknown }))
        : [];
    });
    if (failures.length > 0) {
      const refused = failures.filter((f) => isBrokerPushback(f.reason)).length;
      log.warn(
        { err: String(failures[0]!.reason), failed: failures.length, refused },
        'outbox publish failed; will retry',
      );
    }
    return { done, failures };
  }

  /**
   * Counts a failed publish on each row; a row refused for good (too large) or failed
   * `maxAttempts` times moves to `outbox_parked` with the reason, so it never blocks the rows
   * behind it.
   */
  async function recordFailures(
    trx: Knex.Transaction,
    failures: { row: OutboxRow; reason: unknown }[],
  ): Promise<void> {
    for (const { row, reason } of failures) {
      const attempts = (row.attempts ?? 0) + 1;
      const permanent = reason instanceof MessageTooLargeError;
      if (!permanent && attempts < maxAttempts) {
        await table(trx).where({ seq: row.seq }).update({ attempts });
        continue;
      }
      const text = reason instanceof Error ? reason.message : String(reason);
      await trx
        .withSchema(options.schema)
        .table('outbox_parked')
        .insert({
          seq: row.seq,
          exchange: row.exchange,
          routing_key: row.routing_key,
          body: JSON.stringify(row.body),
          reason: text.slice(0, 1_000),
          attempts,
          created_at: (row as { created_at?: Date }).created_at ?? new Date(),
        })
        .onConflict('seq')
        .ignore();
      await table(trx).where({ seq: row.seq }).delete();
      log.error(
        { seq: row.seq, type: row.body.type, reason: text, attempts },
        'outbox message parked: it could not be published',
      );
    }
  }

  /**
   * Deletes the confirmed rows, all in one statement. Not along the service's own writes: a
   * statement prepared while the outbox was new keeps a plan that scans it, and between two
   * autovacuums the table holds a minute of dead rows (in the bench, a few hundred pages read
   * for every job). This statement is planned for the table as it is each time.
   */
  function flushDeletes(): Promise<void> {
    if (deleteTimer) clearTimeout(deleteTimer);
    deleteTimer = undefined;
    if (confirmed.size === 0 || deleting) return deleting ?? Promise.resolve();
    const seqs = [...confirmed];
    // Out of `confirmed` and not yet deleted, the rows would be free for the sweep to publish
    // again meanwhile.
    for (const seq of seqs) {
      confirmed.delete(seq);
      deletingSeqs.add(seq);
    }
    deleting = deleteRows(seqs)
      .catch((err: unknown) => {
        // Kept for the next flush.
        for (const seq of seqs) confirmed.add(seq);
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'outbox delete failed');
      })
      .finally(() => {
        for (const seq of seqs) deletingSeqs.delete(seq);
        deleting = undefined;
        if (confirmed.size > 0) scheduleDeletes();
      });
    return deleting;
  }

  function scheduleDeletes(): void {
    if (confirmed.size >= batchSize) void flushDeletes();
    else deleteTimer ??= setTimeout(() => void flushDeletes(), deleteDelayMs);
  }

  const bundleable = (r: OutboxRow): boolean =>
    r.exchange === EXCHANGES.events && r.priority === null && BUNDLED_TYPES.has(r.body.type);

  /**
   * Rows committed since the last relay, published straight from memory. Rows of a bundled type
   * (the outcomes of jobs, above all) go several to a message: with the same exchange, routing
   * key and headers, up to MAX_BUNDLE_ROWS and half the largest message. While they flow (one went
   * less than `bundleMs` ago) they wait for the rest of that window first, so under load the
   * broker takes one message per window instead of one per job, and a lone event after a quiet
   * spell still goes at once.
   */
  async function relayFresh(): Promise<Round> {
    const wait =
      bundleMs > 0 && fresh.length < MAX_BUNDLE_ROWS && fresh.every(bundleable)
        ? lastBundleAt + bundleMs - Date.now()
        : 0;
    if (wait > 0) await delay(wait);
    const batch = fresh.slice(0, batchSize);
    fresh = fresh.slice(batch.length);
    for (const r of batch) publishing.add(r.seq);
    try {
      const { done, failures } = await publishAll(bundled(batch));
      for (const seq of done) confirmed.add(seq);
      scheduleDeletes();
      return roundOf(failures);
    } finally {
      for (const r of batch) publishing.delete(r.seq);
    }
  }

  /** `rows` in the messages they go as: bundles of bundleable rows, the others alone. */
  function bundled(rows: OutboxRow[]): OutboxRow[][] {
    const messages: OutboxRow[][] = [];
    const open = new Map<string, { rows: OutboxRow[]; bytes: number }>();
    for (const row of rows) {
      if (!bundleable(row)) {
        messages.push([row]);
        continue;
      }
      lastBundleAt = Date.now();
      const key = `${row.routing_key}\n${JSON.stringify(row.headers)}`;
      const bytes = (row.text ?? JSON.stringify(row.body)).length;
      let bundle = open.get(key);
      if (!bundle || bundle.rows.length >= MAX_BUNDLE_ROWS || bundle.bytes + bytes > maxBytes / 2) {
        bundle = { rows: [], bytes: 0 };
        open.set(key, bundle);
        messages.push(bundle.rows);
      }
      bundle.rows.push(row);
      bundle.bytes += bytes;
    }
    return messages;
  }

  /**
   * Publishes rows nobody published yet: after a failure, a crash, or another replica's. Says
   * how many rows it took and how their publishes went.
   */
  async function sweep(): Promise<{ taken: number; round: Round }> {
    return options.knex.transaction(async (trx) => {
      await trx.raw('set local synchronous_commit = off');
      const query = table(trx)
        .select('*')
        .where('created_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [sweepAgeMs / 1000]))
        .orderBy('seq')
        .limit(batchSize)
        .forUpdate()
        .skipLocked();
      const busy = [...publishing, ...confirmed, ...deletingSeqs];
      if (busy.length > 0) void query.whereNotIn('seq', busy);
      const selected = ((await query) as OutboxRow[]).map((r) => ({ ...r, seq: String(r.seq) }));
      if (selected.length === 0) return { taken: 0, round: 'published' };
      // Rows this process is publishing from memory, or has published and not deleted yet, are
      // not the sweep's: judged now that the select has answered, since a commit may have put
      // them in `fresh` while it ran.
      const mine = new Set([
        ...publishing,
        ...confirmed,
        ...deletingSeqs,
        ...fresh.map((r) => r.seq),
      ]);
      const rows = selected.filter((r) => !mine.has(r.seq));
      if (rows.length === 0) return { taken: selected.length, round: 'published' };
      // Marked before publishing: a row's commit callback can run while the publish is awaited,
      // and must then leave the row to the sweep (it published twice when marked after). A row
      // whose publish fails stays in the table for the next sweep.
      for (const r of rows) {
        swept.add(r.seq);
        if (swept.size > SWEPT_MEMORY) swept.delete(swept.values().next().value!);
      }
      const { done, failures } = await publishAll(rows.map((r) => [r]));
      if (done.length > 0) await table(trx).whereIn('seq', done).delete();
      // With the broker away or pushing back (a nack: a queue full or refusing publishes), every
      // publish fails: nothing is the rows' fault then, and no try is counted.
      const counted = failures.filter((f) => !isBrokerPushback(f.reason));
      if (counted.length > 0 && options.isBrokerConnected()) await recordFailures(trx, counted);
      return { taken: selected.length, round: roundOf(failures) };
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

  /** Waits `ms`, or less if the relay stops meanwhile. */
  async function pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    endPause = undefined;
  }

  /**
   * After a round: a second's pause if a row failed on its own (it is retried, and parked after
   * its tries, while the other rows flow); a growing one while the broker pushes back, or the
   * round failed outright, since every publish meets the same refusal; none once a round goes.
   */
  async function settle(round: Round): Promise<void> {
    if (round === 'published') backoff.reset();
    else await pause(round === 'failed' ? ROW_RETRY_MS : backoff.take());
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
          await settle(await relayFresh());
          continue;
        }
        if (Date.now() >= nextSweep) {
          const { taken, round } = await sweep();
          await settle(round);
          if (round === 'published' && taken === batchSize) continue;
          nextSweep = Date.now() + pollMs;
        }
        await idle(Math.max(0, nextSweep - Date.now()));
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'outbox relay error');
        await settle('refused');
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
      afterCommit(trx, await insert(trx, messages));
    },
    async emit(messages, statement, patch) {
      if (!statement) {
        if (messages.length === 0) return;
        committed(await insert(options.knex, messages));
        return;
      }
      const { cte, bindings, seqs, stored } = insertion(messages, patch);
      const inserted = await statement({ cte, bindings, seqs });
      committed(stored(inserted ?? []));
    },
    along(trx, messages) {
      if (messages.length === 0) return undefined;
      const { cte, bindings, seqs, stored } = insertion(messages);
      return {
        cte,
        bindings,
        seqs,
        inserted: (inserted) => afterCommit(trx, stored(inserted)),
      };
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
      endPause?.();
      await loop;
      // What is left after a failure stays in the table for the next sweep of any replica.
      while (options.isBrokerConnected() && fresh.length > 0) {
        if ((await relayFresh().catch((): Round => 'refused')) !== 'published') break;
      }
      await flushDeletes();
    },
    async parked(limit) {
      const rows = (await options.knex
        .withSchema(options.schema)
        .table('outbox_parked')
        .orderBy('parked_at', 'desc')
        .limit(limit)) as {
        seq: string;
        exchange: string;
        routing_key: string;
        body: Envelope<unknown>;
        reason: string;
        attempts: number;
        created_at: Date;
        parked_at: Date;
      }[];
      return rows.map((r) => ({
        seq: String(r.seq),
        exchange: r.exchange,
        routingKey: r.routing_key,
        type: r.body.type,
        messageId: r.body.id,
        reason: r.reason,
        attempts: r.attempts,
        createdAt: r.created_at.toISOString(),
        parkedAt: r.parked_at.toISOString(),
      }));
    },
    async oldestAgeSeconds() {
      const { rows } = await options.knex.raw<{ rows: { age: number | string | null }[] }>(
        `select extract(epoch from now() - min(created_at)) as age from ${options.schema}.outbox`,
      );
      return Math.max(0, Number(rows[0]?.age ?? 0));
    },
    async pending() {
      const [row] = (await table(options.knex).count<{ count: string }[]>('* as count')) as {
        count: string;
      }[];
      return Number(row?.count ?? 0);
    },
  };
}

/** `outbox.parked` of a service: what its relay gave up on, for `GET /monitoring/outbox`. */
export function outboxRpcHandler(service: OutboxOwner, outbox: Outbox): RpcHandler {
  return rpcHandler(outboxParked[service], async ({ limit }) => ({
    items: await outbox.parked(limit),
  }));
}
