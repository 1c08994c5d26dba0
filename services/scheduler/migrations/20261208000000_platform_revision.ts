import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

/**
 * A platform projection's own revision, one more at every change applied to it. Run-now makes
 * jobs from a kept copy of a platform and inserts them only if the projection is still at that
 * revision. The registry's version does not do: the check against the registry can correct a
 * projection at the same version (one made from an older registry's summary).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('platforms', (t) => {
    t.integer('revision').notNullable().defaultTo(1);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('platforms', (t) => t.dropColumn('revision'));
}
