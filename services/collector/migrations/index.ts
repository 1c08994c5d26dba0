import type { Knex } from 'knex';
import * as createOutbox from './20261122000000_create_outbox.ts';

export const SCHEMA = 'collector';

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_outbox.ts': createOutbox,
};
