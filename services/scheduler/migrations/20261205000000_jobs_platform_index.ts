import type { Knex } from 'knex';

const SCHEMA = 'scheduler';
const INDEX = `${SCHEMA}.jobs_platform_newest`;

/**
 * `job.list` with `platformId` (the console's platform filter, `psc jobs ls -p`) pages a platform's
 * jobs newest first by the keyset `(created_at, id)`, and no index had that order after the
 * platform: `(platform_id, resource, task_type, created_at)` sorts by resource and task first, so
 * each page read and sorted the platform's whole retained history, or walked every platform's
 * jobs by `(created_at, id)` to pick out one platform's. This index walks one platform's jobs in the
 * list's order and stops after a page; the platform's other filters (status, resource, task) are
 * checked on those rows, `since` and the cursor bound the walk.
 *
 * The one index added: a platform's jobs of a rare status are found as well from the
 * `(status, created_at)` end, the lists without a platform already have their index
 * (`(created_at, id)`, `(status, created_at)`, `jobs_backfill`), and each index costs a write on
 * every job insert and every status change (never a HOT update, as status is indexed): the
 * ledger's hottest path.
 */
export async function up(knex: Knex): Promise<void> {
  // A concurrent build failed mid-way leaves an invalid index of this name behind: start afresh.
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
  await knex.raw(
    `create index concurrently jobs_platform_newest
       on ${SCHEMA}.jobs (platform_id, created_at desc, id desc)`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
}

/**
 * Concurrently, as running replicas keep enqueuing and reporting while a new one migrates: a plain
 * build of a ledger of millions of rows would block every write to it until done. A concurrent
 * build cannot run inside a transaction.
 */
export const config = { transaction: false };
