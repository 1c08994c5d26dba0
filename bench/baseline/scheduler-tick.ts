/*
 * Baseline for scenario 4: COUNT schedules all due at DUE_AT (epoch ms). At that moment write
 * one job row per schedule (batches of 500, one statement each) and publish one message per
 * row to a priority queue. Prints `RESULT {"emitted"}` and exits.
 */
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { amqp } from '../lib/deps.ts';

const { AMQP_URL, DATABASE_URL, COUNT, DUE_AT, QUEUE } = process.env;
if (!AMQP_URL || !DATABASE_URL || !COUNT || !DUE_AT || !QUEUE) {
  throw new Error('scheduler-tick: AMQP_URL, DATABASE_URL, COUNT, DUE_AT, QUEUE');
}
const BATCH = 500;
const count = Number(COUNT);
const dueAt = Number(DUE_AT);
const db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
const connection = await amqp.connect(AMQP_URL);
const channel = await connection.createConfirmChannel();
await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-max-priority': 9 } });
const schedules = Array.from({ length: count }, (_, i) => i);
console.log('scheduler-tick ready');

await sleep(Math.max(0, dueAt - Date.now()));
for (let i = 0; i < count; i += BATCH) {
  const { rows } = await db.query<{ id: string }>(
    `insert into baseline.scheduled_jobs (schedule, scheduled_for)
     select s, to_timestamp($2::float8 / 1000) from unnest($1::int[]) as s returning id`,
    [schedules.slice(i, i + BATCH), dueAt],
  );
  for (const row of rows) {
    channel.sendToQueue(QUEUE, Buffer.from(JSON.stringify({ id: row.id })), {
      priority: 5,
      persistent: true,
    });
  }
  await channel.waitForConfirms();
}
console.log(`RESULT ${JSON.stringify({ emitted: count })}`);
await channel.close();
await connection.close();
await db.end();
