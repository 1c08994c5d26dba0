import type { Knex } from 'knex';

const SCHEMA = 'scheduler';
const INDEX = `${SCHEMA}.schedules_task_type`;

/**
 * `schedule.list` with `taskType` (the console's Collectors page, `psc schedules ls --task-type`)
 * pages one task type's schedules in key order, and the primary key `(platform_id, resource,
 * task_type)` has the type last: a page of the few collect schedules walked every platform's sync
 * and validate ones to find 500. This index walks one type's schedules in the list's order (with
 * or without a platform) and stops after a page.
 *
 * Cheap to keep: the tick's upserts change timing columns only, never these, so they stay HOT
 * updates; the index is written when a schedule is made or dropped.
 */
export async function up(knex: Knex): Promise<void> {
  // A concurrent build failed mid-way leaves an invalid index of this name behind: start afresh.
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
  await knex.raw(
    `create index concurrently schedules_task_type
       on ${SCHEMA}.schedules (task_type, platform_id, resource)`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
}

/** Concurrently, as a running leader keeps writing schedules while a new replica migrates. */
export const config = { transaction: false };
