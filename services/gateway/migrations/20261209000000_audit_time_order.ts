import type { Knex } from 'knex';

const SCHEMA = 'gateway';
const INDEX = `${SCHEMA}.audit_log_newest`;

/**
 * The trail is listed by the time of each action, newest first (`GET /audit`): this index walks
 * it in that order, a page at a time, from any cursor. The BRIN index on `at` serves retention's
 * deletes only; it has no order to walk.
 */
export async function up(knex: Knex): Promise<void> {
  // A concurrent build failed mid-way leaves an invalid index of this name behind: start afresh.
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
  await knex.raw(`create index concurrently audit_log_newest on ${SCHEMA}.audit_log (at, id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
}

/** Concurrently, as running replicas keep auditing while a new one migrates. */
export const config = { transaction: false };
