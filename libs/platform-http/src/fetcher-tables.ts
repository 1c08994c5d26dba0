import type { Knex } from 'knex';

/**
 * Migration step: what the platform fetcher keeps in a worker service's own schema, shared by
 * all of the service's replicas: each replica's breaker states and operator resets (for the
 * monitoring API), and each platform's rate and concurrency limits.
 */
export async function createFetcherTables(knex: Knex, schema: string): Promise<void> {
  const s = () => knex.schema.withSchema(schema);
  await s().createTable('breaker_states', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('worker_id').notNullable();
    t.text('state').notNullable();
    t.timestamp('changed_at', { useTz: true }).notNullable();
    t.primary(['platform_id', 'worker_id']);
  });
  await s().createTable('breaker_resets', (t) => {
    t.uuid('platform_id').primary();
    t.timestamp('reset_at', { useTz: true }).notNullable();
  });
  // The next free request time per platform (rate limit) ...
  await s().createTable('rate_limits', (t) => {
    t.uuid('platform_id').primary();
    t.timestamp('next_at', { useTz: true }).notNullable();
  });
  // ... and leased concurrency slots, which expire so a dead holder frees its slot.
  await s().createTable('platform_slots', (t) => {
    t.uuid('platform_id').notNullable();
    t.integer('slot').notNullable();
    t.timestamp('lease_until', { useTz: true }).notNullable();
    t.primary(['platform_id', 'slot']);
  });
}

/** The fetcher's tables, every row of which belongs to one platform (`platform_id`). */
export const FETCHER_TABLES = [
  'breaker_states',
  'breaker_resets',
  'rate_limits',
  'platform_slots',
  'rate_tickets',
] as const;

/**
 * Migration step: turns booked for deferred jobs under a platform's rate limit (see the platform
 * limiter), one per job, so a job deferred for a far-off turn gets that turn when it is back.
 */
export async function createRateTickets(knex: Knex, schema: string): Promise<void> {
  await knex.schema.withSchema(schema).createTable('rate_tickets', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('holder').notNullable();
    t.timestamp('turn_at', { useTz: true }).notNullable();
    t.primary(['platform_id', 'holder']);
  });
}
