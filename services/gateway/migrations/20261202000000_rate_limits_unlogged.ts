import type { Knex } from 'knex';

/**
 * Every authenticated request bumps its key's counter; on a logged table each bump waited for a
 * WAL flush. Counters that live for a minute need no crash safety: after a PostgreSQL crash an
 * unlogged table comes back empty, which only forgives the current minute's requests.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table gateway.rate_limits set unlogged');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table gateway.rate_limits set logged');
}
