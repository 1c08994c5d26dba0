import type { Knex } from 'knex';
import { SERVICE_SCHEMAS } from '@psc/contracts';
import * as createPlatforms from './20261122000000_create_platforms.ts';
import * as platformSecrets from './20261201000000_platform_secrets.ts';
import * as outboxParking from './20261203000000_outbox_parking.ts';
import * as webhooks from './20261204000000_webhooks.ts';
import * as definitionOrder from './20261208000000_definition_order.ts';

export const SCHEMA = SERVICE_SCHEMAS['platform-registry'];

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_platforms.ts': createPlatforms,
  '20261201000000_platform_secrets.ts': platformSecrets,
  '20261203000000_outbox_parking.ts': outboxParking,
  '20261204000000_webhooks.ts': webhooks,
  '20261208000000_definition_order.ts': definitionOrder,
};
