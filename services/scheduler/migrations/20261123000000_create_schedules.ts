import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

export async function up(knex: Knex): Promise<void> {
  // A fresh builder per statement: awaiting a reused SchemaBuilder replays its earlier statements.
  const s = () => knex.schema.withSchema(SCHEMA);
  await s().alterTable('jobs', (t) => {
    // Set for scheduled runs only: the dedupe key below makes a due run enqueue at most once,
    // whichever replica or restart emits it.
    t.timestamp('scheduled_for', { useTz: true });
    t.jsonb('progress');
    t.unique(['platform_id', 'resource', 'task_type', 'scheduled_for'], {
      indexName: 'jobs_dedupe',
    });
    t.index(['finished_at']);
    t.index(['created_at', 'id']);
  });
  // One row per lease name. `token` grows with every change of holder: writes check it in the
  // same transaction, so a leader that lost its lease (paused, partitioned) writes nothing.
  await s().createTable('leases', (t) => {
    t.text('name').primary();
    t.text('holder').notNullable();
    t.bigInteger('token').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await s().createTable('control', (t) => {
    t.integer('id').primary();
    t.text('state').notNullable();
    t.text('reason');
    t.timestamp('changed_at', { useTz: true }).notNullable();
    // Runs due before a resume count as missed, so the misfire policy applies to them.
    t.timestamp('resumed_at', { useTz: true });
    t.timestamp('last_tick_at', { useTz: true });
    t.timestamp('last_purge_at', { useTz: true });
  });
  await s().createTable('audit', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.text('action').notNullable();
    t.text('target').notNullable();
    t.text('reason');
    t.jsonb('detail');
  });
  await s().createTable('task_configs', (t) => {
    t.text('task_type').primary();
    t.jsonb('spec').notNullable();
    t.text('paused_reason');
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  // The scheduler's own view of platforms, fed by platform.* events (never the registry's tables).
  await s().createTable('platforms', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.boolean('active').notNullable();
    t.boolean('deleted').notNullable().defaultTo(false);
    // Seed 004's per-platform stop/start: off stops this platform's schedules only.
    t.boolean('sync_enabled').notNullable().defaultTo(true);
    t.smallint('priority').notNullable();
    t.integer('version').notNullable();
    t.text('base_url');
    t.jsonb('schedule');
    t.jsonb('resources').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  await s().createTable('schedules', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.text('task_type').notNullable();
    // What the timing was computed from; a change restarts the schedule from now.
    t.text('spec_key').notNullable();
    t.timestamp('next_due_at', { useTz: true }).notNullable();
    t.timestamp('last_run_at', { useTz: true });
    t.integer('auto_pause_after');
    t.integer('consecutive_failures').notNullable().defaultTo(0);
    t.text('paused_reason');
    t.primary(['platform_id', 'resource', 'task_type']);
  });
  await knex.withSchema(SCHEMA).table('control').insert({
    id: 1,
    state: 'running',
    changed_at: knex.fn.now(),
  });
}

export async function down(knex: Knex): Promise<void> {
  const s = () => knex.schema.withSchema(SCHEMA);
  for (const table of ['schedules', 'platforms', 'task_configs', 'audit', 'control', 'leases']) {
    await s().dropTable(table);
  }
  await s().alterTable('jobs', (t) => {
    t.dropUnique([], 'jobs_dedupe');
    t.dropIndex(['finished_at']);
    t.dropIndex(['created_at', 'id']);
    t.dropColumn('scheduled_for');
    t.dropColumn('progress');
  });
}
