/*
 * Baseline for scenario 5: one of two bare consumers of a collection's children. Each message
 * names a child URL: fetch it, store the raw document, ack.
 */
import pg from 'pg';
import { amqp } from '../lib/deps.ts';

const { AMQP_URL, DATABASE_URL, QUEUE, PREFETCH } = process.env;
if (!AMQP_URL || !DATABASE_URL || !QUEUE)
  throw new Error('fanout-worker: AMQP_URL, DATABASE_URL, QUEUE');
const prefetch = Number(PREFETCH ?? 4);
const db = new pg.Pool({ connectionString: DATABASE_URL, max: prefetch });
const connection = await amqp.connect(AMQP_URL);
const channel = await connection.createChannel();
await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-max-priority': 9 } });
await channel.prefetch(prefetch);

await channel.consume(QUEUE, (message) => {
  if (!message) return;
  void (async () => {
    const { run, child, url } = JSON.parse(message.content.toString()) as {
      run: string;
      child: string;
      url: string;
    };
    const body = await (await fetch(url)).text();
    await db.query('insert into baseline.documents (run, child, body) values ($1, $2, $3)', [
      run,
      child,
      body,
    ]);
    channel.ack(message);
  })().catch((err: unknown) => {
    console.error(`fanout-worker: ${String(err)}`);
    channel.nack(message, false, true);
  });
});
console.log('fanout-worker ready');

const stop = (): void => {
  void channel
    .close()
    .then(() => connection.close())
    .then(() => db.end())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
