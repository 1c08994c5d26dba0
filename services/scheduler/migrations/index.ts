import type { Knex } from 'knex';
import * as createJobs from './20261122000000_create_jobs.ts';

export const SCHEMA = 'scheduler';

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_jobs.ts': createJobs,
};
