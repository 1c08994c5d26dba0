import type { Knex } from 'knex';
import {
  CHILD_ERROR_CHARS,
  type CollectedDocument,
  type Collection,
  type CollectionChild,
} from '@psc/contracts';
import { runPrepared, type PreparedStatement } from '@psc/db';

const SCHEMA = 'collector';

interface CollectionRow {
  job_id: string;
  platform_id: string;
  resource: string;
  params: Record<string, unknown>;
  status: Collection['status'];
  documents: number;
  children_total: number | null;
  children_succeeded: number;
  children_failed: number;
  started_at: Date;
  finished_at: Date | null;
}

interface ChildRow {
  index: number;
  status: CollectionChild['status'];
  error: string | null;
  finished_at: Date | null;
  worker_id: string | null;
}

interface DocumentRow {
  id: string;
  job_id: string;
  child_index: number | null;
  platform_id: string;
  resource: string;
  params: Record<string, unknown>;
  url: string;
  fetched_at: Date;
  worker_id: string | null;
  data: unknown;
}

export interface NewDocument {
  jobId: string;
  childIndex: number | null;
  platformId: string;
  resource: string;
  params: Record<string, unknown>;
  url: string;
  fetchedAt: Date;
  workerId: string;
  data: unknown;
}

export interface Counter {
  attempt: number;
  startedAt: Date;
  total: number;
  succeeded: number;
  failed: number;
  documents: number;
}

interface CounterRow {
  attempt: number;
  started_at: Date;
  children_total: number;
  children_succeeded: number;
  children_failed: number;
  documents: number;
}

const COUNTER_COLUMNS = [
  'attempt',
  'started_at',
  'children_total',
  'children_succeeded',
  'children_failed',
  'documents',
];

const toCounter = (row: CounterRow): Counter => ({
  attempt: row.attempt,
  startedAt: row.started_at,
  total: row.children_total,
  succeeded: row.children_succeeded,
  failed: row.children_failed,
  documents: row.documents,
});

/**
 * A child that succeeded, in one autocommitted statement: its row ends, its documents are
 * stored and it is counted on its collection, or nothing happens when it ended already (a
 * redelivery) or its run was replayed since. The collection's row is locked only while the
 * statement commits, so concurrent children wait on each other for that long, not for a
 * transaction's round trips; the one whose count is the last sees it (see finishIfDone).
 */
const SUCCEED_CHILD: PreparedStatement = {
  name: `${SCHEMA}.children.succeed`,
  text: `with ended as (
      update ${SCHEMA}.children set status = 'succeeded', error = null, finished_at = $4,
             worker_id = $5
       where parent_job_id = $1 and run = $2 and index = $3 and status = 'pending'
      returning index
    ), counted as (
      update ${SCHEMA}.collections
         set children_succeeded = children_succeeded + 1, documents = documents + $6
       where job_id = $1 and run = $2 and exists (select 1 from ended)
      returning attempt, started_at, children_total, children_succeeded, children_failed, documents
    ), stored as (
      insert into ${SCHEMA}.documents (job_id, child_index, platform_id, resource, params, url,
             fetched_at, worker_id, data)
      -- A document that is JSON null comes out of the record as SQL null: stored as JSON null.
      select d.job_id, d.child_index, d.platform_id, d.resource, d.params, d.url, d.fetched_at,
             d.worker_id, coalesce(d.data, 'null'::jsonb)
        from jsonb_to_recordset($7::jsonb) as d(job_id uuid, child_index integer,
             platform_id uuid, resource text, params jsonb, url text, fetched_at timestamptz,
             worker_id text, data jsonb)
       where exists (select 1 from counted)
    )
    select * from counted`,
};

/** Every child asks it before its request (a redelivered child that ended needs none). */
const CHILD_PENDING: PreparedStatement = {
  name: `${SCHEMA}.children.pending`,
  text: `select 1 as pending from ${SCHEMA}.children
          where parent_job_id = $1 and run = $2 and index = $3 and status = 'pending'`,
};

function toDocument(r: DocumentRow): CollectedDocument {
  return {
    id: String(r.id),
    jobId: r.job_id,
    childIndex: r.child_index,
    platformId: r.platform_id,
    resource: r.resource,
    params: r.params,
    url: r.url,
    fetchedAt: r.fetched_at.toISOString(),
    workerId: r.worker_id,
    data: r.data,
  };
}

function toCollection(r: CollectionRow): Collection {
  return {
    jobId: r.job_id,
    platformId: r.platform_id,
    resource: r.resource,
    params: r.params,
    status: r.status,
    documents: r.documents,
    children:
      r.children_total === null
        ? null
        : { total: r.children_total, succeeded: r.children_succeeded, failed: r.children_failed },
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
  };
}

export function createCollectionRepository(knex: Knex) {
  const t = (name: string, q: Knex | Knex.Transaction = knex) => q.withSchema(SCHEMA).table(name);
  return {
    async find(jobId: string): Promise<Collection | undefined> {
      const row = (await t('collections').where({ job_id: jobId }).first()) as
        CollectionRow | undefined;
      return row && toCollection(row);
    },

    /**
     * Starts the collection of a job's run, replacing an earlier run's (its children and
     * documents go). False when this run was started already (another delivery).
     */
    async start(
      trx: Knex.Transaction,
      c: {
        jobId: string;
        run: number;
        platformId: string;
        resource: string;
        params: Record<string, unknown>;
        status: Collection['status'];
        attempt: number;
        documents: number;
        childrenTotal: number | null;
        startedAt: Date;
        finishedAt: Date | null;
      },
    ): Promise<boolean> {
      const { rows } = await trx.raw<{ rows: { inserted: boolean }[] }>(
        `insert into ${SCHEMA}.collections as c (job_id, run, platform_id, resource, params, status,
           attempt, documents, children_total, children_succeeded, children_failed, started_at,
           finished_at)
         values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, 0, 0, ?, ?)
         on conflict (job_id) do update set run = excluded.run, params = excluded.params,
           status = excluded.status, attempt = excluded.attempt, documents = excluded.documents,
           children_total = excluded.children_total, children_succeeded = 0, children_failed = 0,
           started_at = excluded.started_at, finished_at = excluded.finished_at
         where c.run < excluded.run
         returning (xmax = 0) as inserted`,
        [
          c.jobId,
          c.run,
          c.platformId,
          c.resource,
          JSON.stringify(c.params),
          c.status,
          c.attempt,
          c.documents,
          c.childrenTotal,
          c.startedAt,
          c.finishedAt,
        ],
      );
      const row = rows[0];
      if (!row) return false;
      if (!row.inserted) {
        await t('children', trx)
          .where({ parent_job_id: c.jobId })
          .where('run', '<', c.run)
          .delete();
        await t('documents', trx).where({ job_id: c.jobId }).delete();
      }
      return true;
    },

    async insertChildren(trx: Knex.Transaction, parentJobId: string, run: number, count: number) {
      const CHUNK = 5_000;
      for (let i = 0; i < count; i += CHUNK) {
        const rows = Array.from({ length: Math.min(CHUNK, count - i) }, (_, j) => ({
          parent_job_id: parentJobId,
          run,
          index: i + j,
        }));
        await t('children', trx).insert(rows);
      }
    },

    /** Whether the child of this run still waits to be collected. */
    async childPending(parentJobId: string, run: number, index: number): Promise<boolean> {
      const rows = await runPrepared(knex, CHILD_PENDING, [parentJobId, run, index]);
      return rows.length > 0;
    },

    /**
     * Ends a pending child and counts it on its parent, in the caller's transaction. The row locks
     * taken by both updates serialise concurrent children, so exactly one sees the last count.
     * Returns undefined when the child had already ended (a redelivery).
     */
    async endChild(
      trx: Knex.Transaction,
      child: {
        parentJobId: string;
        run: number;
        index: number;
        outcome: 'succeeded' | 'failed';
        error?: string;
        workerId: string;
        documents: number;
        at: Date;
      },
    ): Promise<Counter | undefined> {
      const ended = (await t('children', trx)
        .where({
          parent_job_id: child.parentJobId,
          run: child.run,
          index: child.index,
          status: 'pending',
        })
        .update({
          status: child.outcome,
          error: child.error ?? null,
          finished_at: child.at,
          worker_id: child.workerId,
        })
        .returning('index')) as unknown[];
      if (ended.length === 0) return undefined;
      const column = child.outcome === 'succeeded' ? 'children_succeeded' : 'children_failed';
      const [row] = (await t('collections', trx)
        .where({ job_id: child.parentJobId, run: child.run })
        .update({
          [column]: trx.raw('?? + 1', [column]),
          documents: trx.raw('documents + ?', [child.documents]),
        })
        .returning(COUNTER_COLUMNS)) as unknown as CounterRow[];
      return row ? toCounter(row) : undefined;
    },

    /** {@link SUCCEED_CHILD}: its count on the collection, or undefined when nothing changed. */
    async succeedChild(
      child: { parentJobId: string; run: number; index: number; workerId: string; at: Date },
      docs: NewDocument[],
    ): Promise<Counter | undefined> {
      const [row] = await runPrepared<CounterRow>(knex, SUCCEED_CHILD, [
        child.parentJobId,
        child.run,
        child.index,
        child.at,
        child.workerId,
        docs.length,
        JSON.stringify(
          docs.map((d) => ({
            job_id: d.jobId,
            child_index: d.childIndex,
            platform_id: d.platformId,
            resource: d.resource,
            params: d.params,
            url: d.url,
            fetched_at: d.fetchedAt,
            worker_id: d.workerId,
            data: d.data ?? null,
          })),
        ),
      ]);
      return row ? toCounter(row) : undefined;
    },

    /** A fan-out of this run still running, locked for the caller's transaction; its counts. */
    async lockRunning(
      trx: Knex.Transaction,
      jobId: string,
      run: number,
    ): Promise<Counter | undefined> {
      const row: CounterRow | undefined = await t('collections', trx)
        .where({ job_id: jobId, run, status: 'running' })
        .whereNotNull('children_total')
        .forUpdate()
        .first(COUNTER_COLUMNS);
      return row ? toCounter(row) : undefined;
    },

    async finish(trx: Knex.Transaction, jobId: string, status: 'succeeded' | 'failed', at: Date) {
      await t('collections', trx).where({ job_id: jobId }).update({ status, finished_at: at });
    },

    async insertDocuments(trx: Knex.Transaction, docs: NewDocument[]): Promise<void> {
      if (docs.length === 0) return;
      await t('documents', trx).insert(
        docs.map((d) => ({
          job_id: d.jobId,
          child_index: d.childIndex,
          platform_id: d.platformId,
          resource: d.resource,
          params: JSON.stringify(d.params),
          url: d.url,
          fetched_at: d.fetchedAt,
          worker_id: d.workerId,
          data: JSON.stringify(d.data ?? null),
        })),
      );
    },

    /**
     * Up to `limit` children of the collection's current run after index `afterIndex`, by index;
     * undefined when the job has no collection. An error is cut to what the API promises.
     */
    async listChildren(q: {
      jobId: string;
      status?: CollectionChild['status'] | undefined;
      afterIndex?: number | undefined;
      limit: number;
    }): Promise<CollectionChild[] | undefined> {
      const collection: { run: number } | undefined = await t('collections')
        .where({ job_id: q.jobId })
        .first('run');
      if (!collection) return undefined;
      const query = t('children')
        .where({ parent_job_id: q.jobId, run: collection.run })
        .orderBy('index')
        .limit(q.limit)
        .select(
          'index',
          'status',
          knex.raw('left(error, ?) as error', [CHILD_ERROR_CHARS]),
          'finished_at',
          'worker_id',
        );
      if (q.status !== undefined) void query.where({ status: q.status });
      if (q.afterIndex !== undefined) void query.where('index', '>', q.afterIndex);
      const rows = (await query) as ChildRow[];
      return rows.map((r) => ({
        index: r.index,
        status: r.status,
        error: r.error,
        finishedAt: r.finished_at?.toISOString() ?? null,
        workerId: r.worker_id,
      }));
    },

    async listDocuments(q: { jobId: string; afterId?: string | undefined; limit: number }) {
      const query = t('documents').where({ job_id: q.jobId }).orderBy('id').limit(q.limit);
      if (q.afterId !== undefined) void query.where('id', '>', q.afterId);
      const rows = (await query) as DocumentRow[];
      return rows.map(toDocument);
    },

    /**
     * Up to `limit` documents after `afterId`, cut short once their data has reached `budget`
     * characters (the one crossing it included): an export page never holds more than its budget
     * plus one document in memory. `more` says whether documents follow the last one returned.
     */
    async exportDocuments(q: {
      jobId: string;
      afterId: string | undefined;
      limit: number;
      budget: number;
    }): Promise<{ docs: CollectedDocument[]; more: boolean }> {
      const { rows } = await knex.raw<{ rows: (DocumentRow & { window_rows: string })[] }>(
        `with window_ as (
           select id, coalesce(sum(octet_length(data::text)) over (order by id rows between
             unbounded preceding and 1 preceding), 0) as before
           from ${SCHEMA}.documents where job_id = ? and id > ? order by id limit ?
         )
         select d.*, (select count(*) from window_) as window_rows
         from ${SCHEMA}.documents d join window_ w on w.id = d.id
         where w.before < ? order by d.id`,
        [q.jobId, q.afterId ?? 0, q.limit + 1, q.budget],
      );
      const windowRows = Number(rows[0]?.window_rows ?? 0);
      const docs = rows.slice(0, q.limit).map(toDocument);
      return { docs, more: windowRows > docs.length };
    },

    async lastRun(platformId: string, resource: string): Promise<Collection | null> {
      const row = (await t('collections')
        .where({ platform_id: platformId, resource })
        .orderBy('started_at', 'desc')
        .first()) as CollectionRow | undefined;
      return row ? toCollection(row) : null;
    },

    async runningCount(platformId: string, resource: string): Promise<number> {
      const [row] = (await t('collections')
        .where({ platform_id: platformId, resource, status: 'running' })
        .count('* as n')) as unknown as { n: string }[];
      return Number(row?.n ?? 0);
    },
  };
}

export type CollectionRepository = ReturnType<typeof createCollectionRepository>;
