/*
 * The peers scenario's worker on pg-boss, written as its docs recommend for throughput: workers
 * woken by LISTEN/NOTIFY (`useListenNotify` here, `notify` on the queues the bench creates), a
 * batch of CONCURRENCY jobs per fetch run concurrently, `burstWhenBatchFull` so a backlog is
 * fetched without the polling pause, and `transactional` so a sync job's upsert commits together
 * with pg-boss marking the job completed, as psc and the baseline record their jobs.
 */
import { PgBoss, type Db, type Job } from 'pg-boss';
import { UPSERT_SQL } from '../baseline/schema.ts';
import { fetchMappedPage } from '../lib/sync-page.ts';

const { DATABASE_URL, PAGES_URL, PLATFORM_ID, PGBOSS_SCHEMA, SYNC_QUEUE, NOOP_QUEUE } = process.env;
if (!DATABASE_URL || !PAGES_URL || !PLATFORM_ID || !PGBOSS_SCHEMA || !SYNC_QUEUE || !NOOP_QUEUE) {
  throw new Error(
    'pgboss-worker: DATABASE_URL, PAGES_URL, PLATFORM_ID, PGBOSS_SCHEMA, SYNC_QUEUE, NOOP_QUEUE',
  );
}
const concurrency = Number(process.env.CONCURRENCY ?? 4);

const boss = new PgBoss({
  connectionString: DATABASE_URL,
  schema: PGBOSS_SCHEMA,
  application_name: 'pgboss-worker',
  useListenNotify: true,
});
boss.on('error', (err) => console.error(`pgboss-worker: ${String(err)}`));
await boss.start();

const work = { batchSize: concurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 };
await boss.work(
  SYNC_QUEUE,
  { ...work, transactional: true },
  async (jobs: Job<{ resource: string }>[], tx: Db) => {
    await Promise.all(
      jobs.map(async (job) => {
        const { keys, docs, hashes } = await fetchMappedPage(`${PAGES_URL}/${job.data.resource}`);
        await tx.executeSql(UPSERT_SQL, [PLATFORM_ID, job.data.resource, keys, docs, hashes]);
      }),
    );
  },
);
await boss.work(NOOP_QUEUE, work, async () => {});
console.log('pgboss-worker ready');

const stop = (): void => {
  void boss.stop({ graceful: true, timeout: 3_000 }).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
