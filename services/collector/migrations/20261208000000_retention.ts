import type { Knex } from 'knex';
import { createAgeIndexes, dropAgeIndexes } from '@psc/db';
import { RUNNER_AGES } from '@psc/job-runner';

const SCHEMA = 'collector';

/** What `PSC_JOB_RETENTION_DAYS` ages out here: the runner's tables (log entries have an index). */
export async function up(knex: Knex): Promise<void> {
  await createAgeIndexes(knex, SCHEMA, RUNNER_AGES);
}

export async function down(knex: Knex): Promise<void> {
  await dropAgeIndexes(knex, SCHEMA, RUNNER_AGES);
}

/** Built concurrently (running replicas keep committing jobs): not inside a transaction. */
export const config = { transaction: false };
