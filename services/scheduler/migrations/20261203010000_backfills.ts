import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

/**
 * Backfills: a range of past steps, each run as a job of the ledger (trigger `backfill`,
 * `scheduled_for` = the step, so `jobs_dedupe` keeps a step from running twice).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('backfills', (t) => {
    t.uuid('id').primary();
    t.uuid('platform_id').notNullable();
    t.string('resource', 100).notNullable();
    t.string('task_type', 20).notNullable();
    t.timestamp('from', { useTz: true }).notNullable();
    t.timestamp('to', { useTz: true }).notNullable();
    t.string('step', 10).notNullable();
    t.string('timezone', 64).notNullable();
    t.jsonb('params_template').notNullable();
    t.integer('max_concurrent').notNullable();
    t.smallint('priority').notNullable();
    t.text('cancel_reason');
    t.timestamp('cancelled_at', { useTz: true });
    // Set once every step has its run: the leader stops looking at it.
    t.timestamp('enqueued_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['created_at', 'id']);
  });
  await knex.raw(
    `create index backfills_open on ${SCHEMA}.backfills (created_at) where enqueued_at is null and cancelled_at is null`,
  );
  await knex.schema.withSchema(SCHEMA).createTable('backfill_steps', (t) => {
    t.uuid('backfill_id')
      .notNullable()
      .references('id')
      .inTable(`${SCHEMA}.backfills`)
      .onDelete('CASCADE');
    t.integer('step_index').notNullable();
    t.timestamp('step_at', { useTz: true }).notNullable();
    // The run of this step: made by this backfill, or one that was already there.
    t.uuid('job_id');
    t.primary(['backfill_id', 'step_index']);
  });
  await knex.schema.withSchema(SCHEMA).alterTable('jobs', (t) => {
    t.uuid('backfill_id');
  });
  await knex.raw(
    `create index jobs_backfill on ${SCHEMA}.jobs (backfill_id) where backfill_id is not null`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('jobs', (t) => t.dropColumn('backfill_id'));
  await knex.schema.withSchema(SCHEMA).dropTable('backfill_steps');
  await knex.schema.withSchema(SCHEMA).dropTable('backfills');
}
