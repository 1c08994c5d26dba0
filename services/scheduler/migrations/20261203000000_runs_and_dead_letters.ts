import type { Knex } from 'knex';
import { createOutboxParking } from '@psc/messaging';

const SCHEMA = 'scheduler';

export async function up(knex: Knex): Promise<void> {
  const s = () => knex.schema.withSchema(SCHEMA);
  await s().alterTable('jobs', (t) => {
    // The ledger itself runs a job again (replay): run n+1 under the same id, and every report
    // names its run, so the correlation-id bookkeeping of the first release goes.
    t.integer('run').notNullable().defaultTo(1);
    t.timestamp('next_attempt_at', { useTz: true });
    // The time of the last report applied, with progress_attempt and progress_phase.
    t.timestamp('position_at', { useTz: true });
    t.dropColumn('run_id');
    t.dropColumn('past_runs');
    t.dropColumn('reset_at');
  });
  // The dead-letter queue: dead and failed jobs (id = job id) and unreadable messages of job
  // queues (poison; job_id null unless the body named one).
  await s().createTable('dead_letters', (t) => {
    t.uuid('id').primary();
    t.uuid('job_id');
    t.integer('run');
    t.uuid('platform_id');
    t.text('resource');
    t.text('task_type');
    t.text('queue').notNullable();
    t.text('reason').notNullable();
    t.integer('attempts').notNullable();
    /** A poison message's body: headers and a prefix of it, for inspection. */
    t.jsonb('message');
    t.timestamp('dead_at', { useTz: true }).notNullable();
    t.index(['dead_at', 'id']);
    t.index(['platform_id']);
  });
  await createOutboxParking(knex, SCHEMA);
  // Dead letters used to be kept by the sync-worker; the ledger knows every dead job anyway.
  await knex.raw(
    `insert into ${SCHEMA}.dead_letters
       (id, job_id, run, platform_id, resource, task_type, queue, reason, attempts, dead_at)
     select id, id, 1, platform_id, resource, task_type,
            case when task_type = 'collect' then 'collector.jobs' else 'sync-worker.jobs' end,
            coalesce((error->>'class') || ': ' || (error->>'message'), status),
            attempts, coalesce(finished_at, updated_at)
       from ${SCHEMA}.jobs where status in ('dead', 'failed')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  const s = () => knex.schema.withSchema(SCHEMA);
  await s().dropTable('outbox_parked');
  await s().alterTable('outbox', (t) => t.dropColumn('attempts'));
  await s().dropTable('dead_letters');
  await s().alterTable('jobs', (t) => {
    t.dropColumn('run');
    t.dropColumn('next_attempt_at');
    t.dropColumn('position_at');
    t.text('run_id');
    t.jsonb('past_runs').notNullable().defaultTo('[]');
    t.timestamp('reset_at', { useTz: true });
  });
}
