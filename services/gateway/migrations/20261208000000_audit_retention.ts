import type { Knex } from 'knex';
import { createAgeIndexes, dropAgeIndexes, type Age } from '@psc/db';

const SCHEMA = 'gateway';
/** What `PSC_AUDIT_RETENTION_DAYS` ages out. */
const AGES: Age[] = [['audit_log', 'at']];

export async function up(knex: Knex): Promise<void> {
  await createAgeIndexes(knex, SCHEMA, AGES);
}

export async function down(knex: Knex): Promise<void> {
  await dropAgeIndexes(knex, SCHEMA, AGES);
}

/** Built concurrently (running replicas keep auditing): not inside a transaction. */
export const config = { transaction: false };
