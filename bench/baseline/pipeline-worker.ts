/*
 * Baseline for scenario 1 (and the bare process of scenario 6): the least code that does a sync
 * job's work with bare amqplib and pg. Consume from a priority queue, fetch one page, map it,
 * upsert it with unnest, mark the job row succeeded, commit, ack. No psc libs, no tracing.
 */
import pg from 'pg';
import { amqp } from '../lib/deps.ts';
import { fetchMappedPage } from '../lib/sync-page.ts';
import { UPSERT_SQL } from './schema.ts';

const { AMQP_URL, DATABASE_URL, PLATFORM_URL, QUEUE, PREFETCH, PLATFORM_ID } = process.env;
if (!AMQP_URL || !DATABASE_URL || !PLATFORM_URL || !QUEUE || !PLATFORM_ID) {
  throw new Error('pipeline-worker: AMQP_URL, DATABASE_URL, PLATFORM_URL, QUEUE, PLATFORM_ID');
}
const prefetch = Number(PREFETCH ?? 4);
const db = new pg.Pool({ connectionString: DATABASE_URL, max: prefetch + 1 });
const connection = await amqp.connect(AMQP_URL);
const channel = await connection.createChannel();
await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-max-priority': 9 } });
await channel.prefetch(prefetch);

await channel.consume(QUEUE, (message) => {
  if (!message) return;
  void (async () => {
    const { id, resource } = JSON.parse(message.content.toString()) as {
      id: string;
      resource: string;
    };
    const { keys, docs, hashes } = await fetchMappedPage(`${PLATFORM_URL}/pipe/${resource}`);
    const client = await db.connect();
    try {
      await client.query('begin');
      await client.query(UPSERT_SQL, [PLATFORM_ID, resource, keys, docs, hashes]);
      await client.query(
        `update baseline.jobs set status = 'succeeded', finished_at = clock_timestamp() where id = $1`,
        [id],
      );
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    channel.ack(message);
  })().catch((err: unknown) => {
    console.error(`pipeline-worker: ${String(err)}`);
    channel.nack(message, false, true);
  });
});
console.log('pipeline-worker ready');

const stop = (): void => {
  void channel
    .close()
    .then(() => connection.close())
    .then(() => db.end())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
