import type { Knex } from 'knex';
import { createOutboxParking } from '@psc/messaging';

const SCHEMA = 'gateway';

export async function up(knex: Knex): Promise<void> {
  // A revocation the relay cannot publish is parked after its tries instead of blocking the rest.
  await createOutboxParking(knex, SCHEMA);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('outbox_parked');
  await knex.schema.withSchema(SCHEMA).alterTable('outbox', (t) => t.dropColumn('attempts'));
}
