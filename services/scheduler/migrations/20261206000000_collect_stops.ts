import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

/**
 * Collectors (platform × collect resource) whose schedule an operator stopped: the tick makes no
 * scheduled collect run for them; run-now still runs them. A row per stop, deleted by start.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('collect_stops', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.text('reason');
    t.timestamp('stopped_at', { useTz: true }).notNullable();
    t.primary(['platform_id', 'resource']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('collect_stops');
}
