import type { Knex } from 'knex';

const SCHEMA = 'registry';

/**
 * `definition` as `json`, which keeps the text as written, instead of `jsonb`, which orders an
 * object's keys by length: a mapping read back, and the CSV export's columns, came out in
 * PostgreSQL's order rather than the operator's. Only the tag filter reads inside it, through an
 * index on its `jsonb` cast. Rows stored before keep the order `jsonb` gave them until saved again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`drop index ${SCHEMA}.platforms_tags`);
  await knex.raw(`alter table ${SCHEMA}.platforms alter column definition type json`);
  await knex.raw(
    `create index platforms_tags on ${SCHEMA}.platforms using gin (((definition -> 'tags')::jsonb))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index ${SCHEMA}.platforms_tags`);
  await knex.raw(`alter table ${SCHEMA}.platforms alter column definition type jsonb`);
  await knex.raw(
    `create index platforms_tags on ${SCHEMA}.platforms using gin ((definition -> 'tags'))`,
  );
}
