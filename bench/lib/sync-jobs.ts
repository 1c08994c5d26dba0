import type pg from 'pg';
import { waitFor, type FakePlatform } from '@psc/testing';
import { runConcurrently } from './load.ts';
import { expectStatus, type Psc } from './psc.ts';

/*
 * The one-page sync job of scenario 1, shared with the peers scenario: the fake platform's pages,
 * psc's platform for them, enqueueing through run-now and waiting on psc's ledger.
 */

/** Enqueue requests in flight during a burst, for psc and every side it is compared with. */
export const ENQUEUE_CONCURRENCY = 8;
/** Jobs run at once per worker process: psc's default PSC_WORKER_CONCURRENCY, and the others'. */
export const WORKER_CONCURRENCY = 4;

/** Runs one statement; a pool, or the cost meter's connection when the bench's queries must not count. */
export type Query = <R extends pg.QueryResultRow>(
  text: string,
  values?: unknown[],
) => Promise<pg.QueryResult<R>>;

/**
 * Serves `GET /<prefix>/<resource>` for each resource: one page of `pageRecords` items
 * `{id, name, value}`, where every response carries a new value, so every job really updates its
 * rows. `emptyResource`, when given, always answers an empty page.
 */
export function servePages(
  fake: FakePlatform,
  prefix: string,
  resources: readonly string[],
  pageRecords: number,
  emptyResource?: string,
): void {
  let served = 0;
  for (const resource of resources) {
    fake.route('GET', `/${prefix}/${resource}`, () => {
      served += 1;
      const value = served;
      return {
        body: {
          data: Array.from({ length: pageRecords }, (_, j) => ({
            id: `k${String(j).padStart(4, '0')}`,
            name: `item ${j}`,
            value,
          })),
        },
      };
    });
  }
  if (emptyResource)
    fake.route('GET', `/${prefix}/${emptyResource}`, () => ({ body: { data: [] } }));
}

/** Registers a psc platform whose resources are the pages `servePages` serves under `prefix`. */
export async function registerSyncPlatform(
  psc: Psc,
  name: string,
  baseUrl: string,
  prefix: string,
  resources: readonly string[],
): Promise<string> {
  const platform = expectStatus(
    `register platform ${name}`,
    await psc.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name,
        baseUrl,
        resources: resources.map((resource) => ({
          name: resource,
          request: { path: `/${prefix}/${resource}` },
          itemsPath: 'data',
          key: 'id',
          mapping: { name: 'name', value: 'value' },
        })),
      },
    }),
    201,
  );
  return platform.id;
}

/** A place jobs are enqueued and their end is recorded: psc's ledger or the baseline's table. */
export interface Ledger {
  /** Table holding the jobs, with `id`, `status` and `finished_at`. */
  table: 'scheduler.jobs' | 'baseline.jobs';
  enqueue(resource: string): Promise<string>;
}

/** psc's side: `POST /api/v1/run/sync` for one resource; the job's id comes back. */
export function pscLedger(psc: Psc, platformId: string): Ledger {
  return {
    table: 'scheduler.jobs',
    async enqueue(resource) {
      const body = expectStatus(
        'run sync',
        await psc.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
          body: { platformId, resource },
        }),
        202,
      );
      return body.jobs[0]!.id;
    },
  };
}

/** Waits until every job in `ids` succeeded; the latest `finished_at`. Throws on a failed job. */
export async function waitLedgerDone(query: Query, table: string, ids: string[]): Promise<Date> {
  return waitFor(
    async () => {
      const { rows } = await query<{ done: number; failed: number; last: Date | null }>(
        `select count(*) filter (where status = 'succeeded')::int as done,
                count(*) filter (where status in ('failed', 'dead', 'cancelled'))::int as failed,
                max(finished_at) as last
           from ${table} where id = any($1::uuid[])`,
        [ids],
      );
      const row = rows[0]!;
      if (row.failed > 0) throw new Error(`${row.failed} ${table} jobs failed`);
      return row.done === ids.length ? row.last : null;
    },
    { timeoutMs: 120_000 + ids.length * 100, intervalMs: 100, message: `${table} done` },
  );
}

export interface Burst {
  ids: string[];
  /** Date.now() before the first enqueue. */
  startedAt: number;
  /** The last job's end as the side itself recorded it (epoch ms). */
  lastFinishedAt: number;
  jobsPerSecond: number;
}

/**
 * `count` jobs enqueued with ENQUEUE_CONCURRENCY in flight, then waited for: throughput from the
 * first enqueue to the last job's end as the side records it.
 */
export async function runBurst(
  count: number,
  enqueue: (k: number) => Promise<string>,
  waitDone: (ids: string[]) => Promise<number>,
): Promise<Burst> {
  const startedAt = Date.now();
  const ids = await runConcurrently(count, ENQUEUE_CONCURRENCY, enqueue);
  const lastFinishedAt = await waitDone(ids);
  return {
    ids,
    startedAt,
    lastFinishedAt,
    jobsPerSecond: (count * 1000) / (lastFinishedAt - startedAt),
  };
}
