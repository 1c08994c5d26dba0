import pg from 'pg';
import { SERVICE_SCHEMAS } from '@psc/contracts';

/**
 * What an outbox relay leaves after a message's tries: one row in the scheduler's parking table
 * (message-bounds.e2e.test.ts parks one for real, which takes up to a minute).
 */
export async function parkOutboxRow(databaseUrl: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query(
      `insert into ${SERVICE_SCHEMAS.scheduler}.outbox_parked
         (seq, exchange, routing_key, body, reason, attempts, created_at)
       values (424242, 'psc.jobs', 'job.run', $1, 'no queue is bound to job.run', 10, now())`,
      [{ id: 'c5b0a4ee-6f43-4a39-9d0e-1c2b3a4d5e6f', type: 'job.run', payload: {} }],
    );
  } finally {
    await db.end();
  }
}
