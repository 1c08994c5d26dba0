import type { Knex } from 'knex';
import { openDatabase } from '@psc/db';
import { createBroker, createRpcClient, type RpcClient } from '@psc/messaging';
import { createMetrics } from '@psc/telemetry';
import { createIsolatedEnv, waitFor, type IsolatedEnv } from '@psc/testing';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { lockSwitchesForStop } from '../src/data-access/switch-lock.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { logger, testBroker } from './support.ts';

/** A clock the test moves by hand. */
export function manualClock(start: string) {
  let now = new Date(start);
  return {
    now: () => now,
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
      return now;
    },
  };
}

/** The real scheduler in-process (fast ticks, manual clock) on an isolated vhost + database. */
export async function startInProcess(
  name: string,
  clock: ReturnType<typeof manualClock>,
  extraEnv: Record<string, string> = {},
) {
  const env: IsolatedEnv = await createIsolatedEnv({ name });
  const config = loadConfig({
    AMQP_URL: env.amqpUrl,
    DATABASE_URL: env.databaseUrl,
    HTTP_PORT: '0',
    PSC_SCHEDULER_TICK_MS: '40',
    PSC_SCHEDULER_LEASE_MS: '5000',
    PSC_SCHEDULER_REPLICA_ID: 'in-process',
    ...extraEnv,
  });
  const knex: Knex = await openDatabase({
    url: env.databaseUrl,
    schema: SCHEMA,
    migrations,
    applicationName: 'scheduler-test',
    logger,
  });
  const broker = createBroker({ url: env.amqpUrl, connectionName: 'scheduler', logger });
  const app = createApp({
    config,
    logger,
    knex,
    broker,
    registry: createMetrics({ service: 'scheduler' }).registry,
    clock,
  });
  await app.start();
  const mq = testBroker(env);
  const rpc: RpcClient<'test'> = createRpcClient({
    broker: mq.broker,
    appId: 'test',
    timeoutMs: 5_000,
  });
  const jobs = () => knex.withSchema(SCHEMA).table('jobs');

  return {
    app,
    env,
    knex,
    mq,
    rpc,
    jobs,
    /** Moves the clock and waits until a leader tick has run at the new time. */
    async step(ms: number): Promise<Date> {
      const at = clock.advance(ms);
      await waitFor(
        async () => {
          const row = (await knex.withSchema(SCHEMA).table('control').first()) as {
            last_tick_at: Date | null;
          };
          return row.last_tick_at !== null && row.last_tick_at.getTime() >= at.getTime();
        },
        { timeoutMs: 10_000, intervalMs: 20, message: `tick at ${at.toISOString()}` },
      );
      return at;
    },
    async waitForPlatform(id: string): Promise<void> {
      await waitFor(
        async () =>
          (await knex.withSchema(SCHEMA).table('platforms').where({ id }).first()) !== undefined,
        { message: 'platform projected' },
      );
    },
    async outboxDrained(): Promise<void> {
      await waitFor(
        async () => {
          const [row] = await knex
            .withSchema(SCHEMA)
            .table('outbox')
            .count<{ n: string }[]>('* as n');
          return Number(row?.n) === 0;
        },
        { message: 'outbox drained' },
      );
    },
    /**
     * Lets the tick `ms` on plan, then commits `writeStop` while that tick waits to write its
     * runs: the stop's transaction, held open here, takes the switches' lock first, as the
     * control store's does. Resolves with the tick's instant once that tick has run.
     */
    async stopWhileTickWrites(
      ms: number,
      writeStop: (trx: Knex.Transaction, at: Date) => Promise<unknown>,
    ): Promise<Date> {
      const stop = await knex.transaction();
      try {
        await lockSwitchesForStop(stop);
        const at = clock.advance(ms);
        // The tick at `at` read no stop and planned its runs; it waits to write them.
        await waitFor(
          async () => {
            const { rows } = await knex.raw<{ rows: { n: string }[] }>(
              `select count(*) as n from pg_locks
                where locktype = 'advisory' and not granted
                  and database = (select oid from pg_database where datname = current_database())`,
            );
            return Number(rows[0]?.n) > 0;
          },
          { message: 'the tick waiting for the switches’ lock' },
        );
        await writeStop(stop, at);
        await stop.commit();
        await this.step(0);
        return at;
      } finally {
        if (!stop.isCompleted()) await stop.rollback();
      }
    },
    async stop(): Promise<void> {
      await app.stop();
      await rpc.close();
      await mq.close();
      await broker.close();
      await knex.destroy();
      await env.cleanup();
    },
  };
}
