import type { Knex } from 'knex';
import { SERVICE_SCHEMAS } from '@psc/contracts';
import * as createRecords from './20261122000000_create_records.ts';
import * as syncResilience from './20261123000000_sync_resilience.ts';
import * as jobRunner from './20261203000000_job_runner.ts';
import * as retention from './20261208000000_retention.ts';
import * as rateTickets from './20261209000000_rate_tickets.ts';

export const SCHEMA = SERVICE_SCHEMAS['sync-worker'];

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_records.ts': createRecords,
  '20261123000000_sync_resilience.ts': syncResilience,
  '20261203000000_job_runner.ts': jobRunner,
  '20261208000000_retention.ts': retention,
  '20261209000000_rate_tickets.ts': rateTickets,
};
