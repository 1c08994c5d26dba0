import type { Knex } from 'knex';
import { createRateTickets } from '@psc/platform-http';

const SCHEMA = 'sync';

export async function up(knex: Knex): Promise<void> {
  // A job deferred for a rate-limited platform's far-off turn keeps that turn booked here.
  await createRateTickets(knex, SCHEMA);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('rate_tickets');
}
