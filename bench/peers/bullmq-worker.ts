/*
 * The peers scenario's worker on BullMQ, as its docs show it: one Worker per queue with
 * `concurrency` jobs in flight, on the local Redis under the run's own key prefix. BullMQ records
 * a job's end in Redis itself (the completed set, `finishedOn`); a sync job's upsert is one
 * statement on a pg pool, as in the baseline.
 */
import pg from 'pg';
import { Worker } from 'bullmq';
import { UPSERT_SQL } from '../baseline/schema.ts';
import { fetchMappedPage } from '../lib/sync-page.ts';

const { DATABASE_URL, REDIS_URL, BULLMQ_PREFIX, PAGES_URL, PLATFORM_ID, SYNC_QUEUE, NOOP_QUEUE } =
  process.env;
if (
  !DATABASE_URL ||
  !REDIS_URL ||
  !BULLMQ_PREFIX ||
  !PAGES_URL ||
  !PLATFORM_ID ||
  !SYNC_QUEUE ||
  !NOOP_QUEUE
) {
  throw new Error(
    'bullmq-worker: DATABASE_URL, REDIS_URL, BULLMQ_PREFIX, PAGES_URL, PLATFORM_ID, SYNC_QUEUE, NOOP_QUEUE',
  );
}
const concurrency = Number(process.env.CONCURRENCY ?? 4);
const db = new pg.Pool({
  connectionString: DATABASE_URL,
  max: concurrency,
  application_name: 'bullmq-worker',
});
// Workers block on Redis, so BullMQ wants commands retried without limit (its docs' setting).
const options = {
  connection: { url: REDIS_URL, maxRetriesPerRequest: null },
  prefix: BULLMQ_PREFIX,
  concurrency,
};

const sync = new Worker<{ resource: string }>(
  SYNC_QUEUE,
  async (job) => {
    const { keys, docs, hashes } = await fetchMappedPage(`${PAGES_URL}/${job.data.resource}`);
    await db.query(UPSERT_SQL, [PLATFORM_ID, job.data.resource, keys, docs, hashes]);
  },
  options,
);
const noop = new Worker(NOOP_QUEUE, async () => {}, options);
for (const worker of [sync, noop]) {
  worker.on('error', (err) => console.error(`bullmq-worker: ${String(err)}`));
  worker.on('failed', (job, err) => console.error(`bullmq-worker: job ${job?.id}: ${String(err)}`));
}
await Promise.all([sync.waitUntilReady(), noop.waitUntilReady()]);
console.log('bullmq-worker ready');

const stop = (): void => {
  void Promise.all([sync.close(), noop.close()])
    .then(() => db.end())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
