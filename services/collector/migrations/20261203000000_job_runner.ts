import type { Knex } from 'knex';
import { createJobRunnerTables } from '@psc/job-runner';
import { createOutboxParking } from '@psc/messaging';
import { createFetcherTables } from '@psc/platform-http';

const SCHEMA = 'collector';

export async function up(knex: Knex): Promise<void> {
  // The job runner and platform fetcher shared with the sync-worker: runs recorded by (job,
  // run), cancellations, persisted breakers and limits shared by the collector's replicas.
  await createJobRunnerTables(knex, SCHEMA);
  await createFetcherTables(knex, SCHEMA);
  await createOutboxParking(knex, SCHEMA);
  // A replayed collect job is collected again as its next run; the collection shows the latest.
  await knex.schema.withSchema(SCHEMA).alterTable('collections', (t) => {
    t.integer('run').notNullable().defaultTo(1);
  });
  await knex.schema.withSchema(SCHEMA).alterTable('children', (t) => {
    t.integer('run').notNullable().defaultTo(1);
  });
}

export async function down(knex: Knex): Promise<void> {
  const s = () => knex.schema.withSchema(SCHEMA);
  await s().alterTable('children', (t) => t.dropColumn('run'));
  await s().alterTable('collections', (t) => t.dropColumn('run'));
  await s().alterTable('outbox', (t) => t.dropColumn('attempts'));
  for (const table of [
    'outbox_parked',
    'job_crashes',
    'platform_slots',
    'rate_limits',
    'breaker_resets',
    'breaker_states',
    'cancelled_jobs',
    'job_runs',
  ]) {
    await s().dropTable(table);
  }
}
