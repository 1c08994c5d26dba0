import type { Knex } from 'knex';
import { createAgeIndexes, dropAgeIndexes, type Age } from '@psc/db';
import { RUNNER_AGES } from '@psc/job-runner';

const SCHEMA = 'sync';
/** What `PSC_JOB_RETENTION_DAYS` ages out here: the runner's tables and drift reports. */
const AGES: Age[] = [...RUNNER_AGES, ['validations', 'at']];

export async function up(knex: Knex): Promise<void> {
  await createAgeIndexes(knex, SCHEMA, AGES);
}

export async function down(knex: Knex): Promise<void> {
  await dropAgeIndexes(knex, SCHEMA, AGES);
}

/** Built concurrently (running replicas keep committing jobs): not inside a transaction. */
export const config = { transaction: false };
