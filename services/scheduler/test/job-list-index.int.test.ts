import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import type { JobListRequest } from '@psc/contracts';
import { openDatabase } from '@psc/db';
import { createIsolatedEnv, type IsolatedEnv } from '@psc/testing';
import { createJobRepository, type JobRepository } from '../src/data-access/job.repository.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { logger } from './support.ts';

/**
 * A fleet's ledger: each platform a hundredth of it. With a few platforms sharing a small ledger,
 * walking `(created_at, id)` and skipping the other platforms' rows costs the planner about as
 * little as the platform index, and it may take either; here only the index is cheap.
 */
const PLATFORMS = 100;
const JOBS = 50_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

interface PgConnection {
  query(
    sql: string,
    values: readonly unknown[],
  ): Promise<{ rows: { 'QUERY PLAN': [{ Plan: PlanNode }] }[] }>;
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

describe('job.list by platform: the ledger index', { timeout: 60_000 }, () => {
  const platforms = Array.from({ length: PLATFORMS }, () => randomUUID());
  const platformId = platforms[3]!;
  let env: IsolatedEnv;
  let knex: Knex;
  let jobs: JobRepository;

  before(async () => {
    env = await createIsolatedEnv({ name: 'scheduler-job-list-index' });
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations, logger });
    jobs = createJobRepository(knex);
    // Round-robin over the platforms, two jobs of a platform per second: pages end inside a
    // second, so the id must break the tie.
    await knex.raw(
      `insert into scheduler.jobs (id, platform_id, resource, task_type, status, priority, trigger,
                                   created_at, updated_at)
       select gen_random_uuid(), (?::uuid[])[g % ? + 1], 'r' || (g % 3),
              (array['sync', 'validate', 'collect'])[g % 3 + 1],
              (array['succeeded', 'failed', 'queued', 'running'])[g % 4 + 1], 5, 'schedule',
              t, t
         from generate_series(0, ? - 1) g,
              lateral (select timestamptz '2030-01-01' + (g / (2 * ?)) * interval '1 second') c(t)`,
      [platforms, PLATFORMS, JOBS, PLATFORMS],
    );
    await knex.raw('analyze scheduler.jobs');
  });
  after(async () => {
    await knex?.destroy();
    await env?.cleanup();
  });

  /** Lists as `job.list` does, and returns the plan of the statement knex sent for it. */
  async function listWithPlan(request: JobListRequest) {
    const sent: { sql: string; bindings: readonly unknown[] }[] = [];
    const capture = (query: { sql: string; bindings?: readonly unknown[] }) =>
      sent.push({ sql: query.sql, bindings: query.bindings ?? [] });
    knex.on('query', capture);
    const page = await jobs.list(request).finally(() => knex.off('query', capture));
    assert.equal(sent.length, 1, 'one statement per page');
    const { sql, bindings } = sent[0]!;
    // Explained on a connection of the pool as sent ($1… placeholders, values apart), which
    // knex.raw would not take: planned with these values, as the list's statement is.
    const pool = knex.client as {
      acquireConnection(): Promise<PgConnection>;
      releaseConnection(connection: PgConnection): Promise<void>;
    };
    const connection = await pool.acquireConnection();
    try {
      const { rows } = await connection.query(`explain (format json) ${sql}`, bindings);
      return { page, plan: nodesOf(rows[0]!['QUERY PLAN'][0].Plan) };
    } finally {
      await pool.releaseConnection(connection);
    }
  }

  /** The platform's jobs as the list must page them: newest first, the larger id first on a tie. */
  async function newestFirst(): Promise<string[]> {
    const rows = await knex
      .withSchema(SCHEMA)
      .table('jobs')
      .where({ platform_id: platformId })
      .select<{ id: string; created_at: Date }[]>('id', 'created_at');
    return rows
      .sort(
        (a, b) =>
          b.created_at.getTime() - a.created_at.getTime() ||
          (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
      )
      .map((r) => r.id);
  }

  const assertPagedByIndex = (plan: PlanNode[]) => {
    const onJobs = plan.filter((n) => n['Relation Name'] === 'jobs');
    assert.ok(
      onJobs.every((n) => n['Node Type'] !== 'Seq Scan'),
      'no Seq Scan of scheduler.jobs',
    );
    assert.deepEqual(
      onJobs.map((n) => [n['Node Type'], n['Index Name']]),
      [['Index Scan', 'jobs_platform_newest']],
    );
    // The index gives the order: no sort of the platform's whole history before the limit.
    assert.ok(
      plan.every((n) => !n['Node Type'].includes('Sort')),
      'no Sort',
    );
  };

  it('when a platform has 500 of a ledger’s 50,000 jobs, then its first page comes newest first by the platform index, without a scan or a sort of the ledger', async () => {
    const { page, plan } = await listWithPlan({ platformId, limit: 50 });

    assertPagedByIndex(plan);
    assert.deepEqual(
      page.items.map((j) => j.id),
      (await newestFirst()).slice(0, 50),
    );
    assert.ok(page.items.every((j) => j.platformId === platformId));
    assert.ok(page.nextCursor);
  });

  it('when the next page is asked for by its cursor, then it continues where the first ended, by the same index', async () => {
    const first = await jobs.list({ platformId, limit: 50 });

    const { page, plan } = await listWithPlan({
      platformId,
      limit: 50,
      cursor: first.nextCursor!,
    });

    assertPagedByIndex(plan);
    assert.deepEqual(
      page.items.map((j) => j.id),
      (await newestFirst()).slice(50, 100),
    );
    assert.ok(page.items.every((j) => j.platformId === platformId));
  });
});
