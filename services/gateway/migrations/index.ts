import type { Knex } from 'knex';
import { SERVICE_SCHEMAS } from '@psc/contracts';
import * as createGateway from './20261201000000_create_gateway.ts';
import * as rateLimitsUnlogged from './20261202000000_rate_limits_unlogged.ts';
import * as createOutbox from './20261203000000_create_outbox.ts';
import * as outboxParking from './20261203010000_outbox_parking.ts';
import * as auditRetention from './20261208000000_audit_retention.ts';
import * as auditTimeOrder from './20261209000000_audit_time_order.ts';

export const SCHEMA = SERVICE_SCHEMAS['gateway'];

export const migrations: Record<string, Knex.Migration> = {
  '20261201000000_create_gateway.ts': createGateway,
  '20261202000000_rate_limits_unlogged.ts': rateLimitsUnlogged,
  '20261203000000_create_outbox.ts': createOutbox,
  '20261203010000_outbox_parking.ts': outboxParking,
  '20261208000000_audit_retention.ts': auditRetention,
  '20261209000000_audit_time_order.ts': auditTimeOrder,
};
