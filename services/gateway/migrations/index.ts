import type { Knex } from 'knex';
import * as createGateway from './20261201000000_create_gateway.ts';
import * as rateLimitsUnlogged from './20261202000000_rate_limits_unlogged.ts';

export const SCHEMA = 'gateway';

export const migrations: Record<string, Knex.Migration> = {
  '20261201000000_create_gateway.ts': createGateway,
  '20261202000000_rate_limits_unlogged.ts': rateLimitsUnlogged,
};
