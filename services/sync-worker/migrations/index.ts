import type { Knex } from 'knex';
import * as createRecords from './20261122000000_create_records.ts';

export const SCHEMA = 'sync';

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_records.ts': createRecords,
};
