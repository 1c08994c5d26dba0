import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('jobs', (t) => {
    // A replay runs the job again under its id; its events are told apart from an earlier run's
    // by the correlation id of the run (replaced by the run number in 20261203000000).
    t.text('run_id');
    t.jsonb('past_runs').notNullable().defaultTo('[]');
    t.timestamp('reset_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('jobs', (t) => {
    t.dropColumn('run_id');
    t.dropColumn('past_runs');
    t.dropColumn('reset_at');
  });
}
