import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import { createRetention, openDatabase } from '@psc/db';
import { runnerRetention } from '@psc/job-runner';
import { createLogger } from '@psc/telemetry';
import { createIsolatedEnv, type IsolatedEnv } from '@psc/testing';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { loadConfig } from '../src/config.ts';
import { logRetention } from '../src/data-access/log.repository.ts';
import { workerRetention } from '../src/data-access/worker.repository.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The collector's retention rules, as its app builds them, against its own migrated schema. */
describe('collector retention: log entries, gone workers and run records', () => {
  let env: IsolatedEnv;
  let knex: Knex;
  const logger = createLogger({
    service: 'collector',
    level: 'error',
    destination: { write: () => undefined },
  });

  before(async () => {
    env = await createIsolatedEnv({ name: 'collector-retention' });
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
  });
  after(async () => {
    await knex?.destroy();
    await env?.cleanup();
  });

  it('when rows are older than PSC_LOG_RETENTION_HOURS, an hour past a worker’s expiry and PSC_JOB_RETENTION_DAYS, then a retention pass deletes them and keeps the recent ones', async () => {
    const config = loadConfig({
      AMQP_URL: env.amqpUrl,
      DATABASE_URL: env.databaseUrl,
      PSC_WORKER_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
      PSC_LOG_RETENTION_HOURS: '24',
      PSC_JOB_RETENTION_DAYS: '30',
    });
    const ago = (ms: number) => new Date(Date.now() - ms);
    const table = (name: string) => knex.withSchema(SCHEMA).table(name);
    const line = (message: string, at: Date) => ({
      id: randomUUID(),
      at,
      level: 30,
      service: 'sync-worker',
      message,
    });
    await table('log_entries').insert([
      line('old', ago(25 * HOUR)),
      line('recent', ago(23 * HOUR)),
    ]);
    const worker = (id: string, expiresAt: Date) => ({
      worker_id: id,
      heartbeat: JSON.stringify({ workerId: id }),
      last_seen_at: expiresAt,
      expires_at: expiresAt,
    });
    await table('workers').insert([
      worker('gone', ago(2 * HOUR)),
      worker('just-gone', ago(HOUR / 2)),
    ]);
    const [oldJob, recentJob] = [randomUUID(), randomUUID()];
    const run = (jobId: string, at: Date, status = 'succeeded') => ({
      job_id: jobId,
      run: 1,
      attempt: 1,
      status,
      finished_at: at,
    });
    // A fan-out whose last child has not ended stays, however old.
    const fanOut = randomUUID();
    await table('job_runs').insert([
      run(oldJob, ago(31 * DAY)),
      run(recentJob, ago(29 * DAY)),
      run(fanOut, ago(40 * DAY), 'continues'),
    ]);
    await table('cancelled_jobs').insert([
      { job_id: oldJob, run: 1, at: ago(31 * DAY) },
      { job_id: recentJob, run: 1, at: ago(29 * DAY) },
    ]);

    const retention = createRetention({
      knex,
      logger,
      rules: [
        logRetention(config.logRetentionMs),
        workerRetention,
        ...runnerRetention(SCHEMA, config.jobRetentionMs),
      ],
    });
    assert.deepEqual(await retention.runOnce(), {
      'log entries': 1,
      'gone workers': 1,
      'run records': 1,
      cancellations: 1,
      'crash counts': 0,
    });
    const column = async (name: string, col: string) =>
      (await table(name).select<Record<string, string>[]>(col)).map((r) => r[col]).sort();
    assert.deepEqual(await column('log_entries', 'message'), ['recent']);
    assert.deepEqual(await column('workers', 'worker_id'), ['just-gone']);
    assert.deepEqual(await column('job_runs', 'job_id'), [recentJob, fanOut].sort());
    assert.deepEqual(await column('cancelled_jobs', 'job_id'), [recentJob]);
  });
});
