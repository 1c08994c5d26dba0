import type { ConsumeMessage } from 'amqplib';
import { EXCHANGES, jobSucceeded } from '@psc/contracts';
import {
  baseTopology,
  createOutbox,
  createOutboxParking,
  createOutboxTable,
  createEnvelope,
  createPublisher,
  type Broker,
  type Outbox,
  type OutboxMessage,
} from '@psc/messaging';
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

/** A started outbox in `schema` publishing through its own publisher; stopped with the fixture. */
export function startOutbox(
  fx: Fixture,
  knex: Knex,
  broker: Broker,
  schema: string,
  extra: { deleteDelayMs?: number; sweepAgeMs?: number; bundleMs?: number } = {},
): Outbox {
  const publisher = createPublisher({ broker, topology: baseTopology, appId: 'conformance' });
  const outbox = createOutbox({
    knex,
    schema,
    publisher,
    logger: fx.logger,
    isBrokerConnected: () => broker.isConnected(),
    pollIntervalMs: 50,
    sweepAgeMs: 0,
    maxAttempts: 3,
    ...extra,
  });
  fx.defer(() => publisher.close());
  fx.defer(() => outbox.stop());
  outbox.start();
  return outbox;
}

/**
 * Every message published to the events exchange for `type`, as seen by a plain subscriber
 * on `queue`.
 */
export async function subscribeEvents(
  fx: Fixture,
  queue: string,
  type: string,
): Promise<ConsumeMessage[]> {
  const raw = await fx.raw();
  await raw.channel.assertExchange(EXCHANGES.unrouted, 'fanout', { durable: true });
  await raw.channel.assertExchange(EXCHANGES.events, 'topic', {
    durable: true,
    alternateExchange: EXCHANGES.unrouted,
  });
  await raw.channel.assertQueue(queue);
  await raw.channel.bindQueue(queue, EXCHANGES.events, type);
  const seen: ConsumeMessage[] = [];
  await raw.channel.consume(queue, (msg) => msg && seen.push(msg), { noAck: true });
  return seen;
}

/** A job's outcome, a type the outbox bundles; in trace `traceId` when given. */
export const jobOutcome = (traceId?: string): OutboxMessage => ({
  exchange: EXCHANGES.events,
  routingKey: jobSucceeded.type,
  envelope: createEnvelope(jobSucceeded, {
    jobId: crypto.randomUUID(),
    run: 1,
    attempt: 1,
    at: new Date().toISOString(),
    stats: { fetched: 1, inserted: 1, updated: 0, unchanged: 0, deleted: 0 },
  }),
  ...(traceId ? { traceId } : {}),
});
