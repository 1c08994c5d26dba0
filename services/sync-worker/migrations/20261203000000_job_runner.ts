import type { Knex } from 'knex';
import { createCrashTable } from '@psc/job-runner';
import { createOutboxParking } from '@psc/messaging';

const SCHEMA = 'sync';

export async function up(knex: Knex): Promise<void> {
  // The job runner shared with the collector keys what it records by run: a job replayed from
  // the ledger's dead-letter queue is run n+1 and must not look done already.
  await knex.raw(`alter table ${SCHEMA}.job_runs
    add column run integer not null default 1,
    add column status text not null default 'succeeded',
    alter column stats drop not null,
    drop constraint job_runs_pkey,
    add primary key (job_id, run)`);
  await knex.raw(`alter table ${SCHEMA}.cancelled_jobs
    add column run integer not null default 1,
    drop constraint cancelled_jobs_pkey,
    add primary key (job_id, run)`);
  await createCrashTable(knex, SCHEMA);
  await createOutboxParking(knex, SCHEMA);
  // Dead letters are the ledger's (the scheduler's) now; it rebuilt them from its own rows.
  await knex.schema.withSchema(SCHEMA).dropTable('dead_letters');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('outbox_parked');
  await knex.schema.withSchema(SCHEMA).alterTable('outbox', (t) => t.dropColumn('attempts'));
  await knex.schema.withSchema(SCHEMA).dropTable('job_crashes');
  await knex.schema.withSchema(SCHEMA).createTable('dead_letters', (t) => {
    t.text('id').primary();
    t.uuid('job_id').index();
    t.uuid('platform_id');
    t.text('resource');
    t.text('task_type');
    t.text('queue').notNullable();
    t.text('reason').notNullable();
    t.integer('attempts').notNullable();
    t.smallint('priority');
    t.jsonb('envelope');
    t.text('raw');
    t.timestamp('dead_at', { useTz: true }).notNullable();
  });
  await knex.raw(`delete from ${SCHEMA}.cancelled_jobs where run > 1`);
  await knex.raw(`alter table ${SCHEMA}.cancelled_jobs
    drop constraint cancelled_jobs_pkey, drop column run, add primary key (job_id)`);
  await knex.raw(`delete from ${SCHEMA}.job_runs where run > 1 or stats is null`);
  await knex.raw(`alter table ${SCHEMA}.job_runs
    drop constraint job_runs_pkey, drop column run, drop column status,
    alter column stats set not null, add primary key (job_id)`);
}
