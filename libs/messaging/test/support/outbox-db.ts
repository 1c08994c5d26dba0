import { createOutboxParking, createOutboxTable } from '@psc/messaging';
import { createDb, runMigrations, type Knex } from '../../../db/src/index.ts';
import type { Fixture } from './fixture.ts';

/**
 * A knex on the fixture's database with an outbox (and its parking table) in `schema`, plus
 * whatever `more` creates there; destroyed with the fixture.
 */
export async function outboxDatabase(
  fx: Fixture,
  schema: string,
  more?: (k: Knex) => Promise<void>,
): Promise<Knex> {
  const knex = createDb({ url: fx.env.databaseUrl, schema, poolMax: 4 });
  fx.defer(() => knex.destroy());
  await runMigrations(knex, {
    schema,
    migrations: {
      '0001_outbox.ts': {
        up: async (k: Knex) => {
          await createOutboxTable(k, schema);
          await createOutboxParking(k, schema);
          await more?.(k);
        },
        down: async (k: Knex) => {
          await k.schema.withSchema(schema).dropTable('outbox');
        },
      },
    },
  });
  return knex;
}
