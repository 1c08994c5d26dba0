import type { Knex } from 'knex';
import { createOutboxTable } from '@psc/messaging';

/** Key revocations commit together with the `api-key.revoked` event every replica listens to. */
export async function up(knex: Knex): Promise<void> {
  await createOutboxTable(knex, 'gateway');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('gateway').dropTable('outbox');
}
