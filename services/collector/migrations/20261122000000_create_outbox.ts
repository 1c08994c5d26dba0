import type { Knex } from 'knex';
import { createOutboxTable } from '@psc/messaging';

export async function up(knex: Knex): Promise<void> {
  await createOutboxTable(knex, 'collector');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('collector').dropTable('outbox');
}
