import type { Knex } from 'knex';
import { SERVICE_SCHEMAS } from '@psc/contracts';
import * as createOutbox from './20261122000000_create_outbox.ts';
import * as createCollections from './20261201000000_create_collections.ts';
import * as jobRunner from './20261203000000_job_runner.ts';
import * as collectedBy from './20261204000000_collected_by.ts';
import * as retention from './20261208000000_retention.ts';
import * as rateTickets from './20261209000000_rate_tickets.ts';

export const SCHEMA = SERVICE_SCHEMAS['collector'];

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_outbox.ts': createOutbox,
  '20261201000000_create_collections.ts': createCollections,
  '20261203000000_job_runner.ts': jobRunner,
  '20261204000000_collected_by.ts': collectedBy,
  '20261208000000_retention.ts': retention,
  '20261209000000_rate_tickets.ts': rateTickets,
};
