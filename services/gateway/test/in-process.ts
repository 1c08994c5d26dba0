import type { Knex } from 'knex';
import { systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import { createBroker, type Broker } from '@psc/messaging';
import { createLogger, createMetrics, type Logger } from '@psc/telemetry';
import { createIsolatedEnv, type IsolatedEnv } from '@psc/testing';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

export interface InProcessGateway {
  env: IsolatedEnv;
  knex: Knex;
  broker: Broker;
  app: ReturnType<typeof createApp>;
  /** Where it listens, on loopback. */
  url: string;
  /** Stops it and drops its vhost and database. */
  stop(): Promise<void>;
}

/**
 * One gateway in this process on a vhost and database of its own, with `adminKey` as its
 * bootstrap key: for tests of its HTTP answers (no other service runs, so relayed calls time
 * out). What it opened is closed again if it fails to start.
 */
export async function startGatewayInProcess(options: {
  name: string;
  adminKey: string;
  /** More of its environment, over the isolated URLs. */
  env?: Record<string, string>;
  logger?: Logger;
}): Promise<InProcessGateway> {
  const env = await createIsolatedEnv({ name: options.name });
  const opened: (() => Promise<unknown>)[] = [() => env.cleanup()];
  const stop = async () => {
    for (const close of opened.reverse()) await close();
  };
  try {
    const knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
    opened.push(() => knex.destroy());
    const logger = options.logger ?? createLogger({ service: 'gateway', level: 'silent' });
    const broker = createBroker({ url: env.amqpUrl, connectionName: 'gateway', logger });
    opened.push(() => broker.close());
    const app = createApp({
      config: loadConfig({
        AMQP_URL: env.amqpUrl,
        DATABASE_URL: env.databaseUrl,
        HTTP_PORT: '0',
        PSC_ADMIN_API_KEY: options.adminKey,
        ...options.env,
      }),
      logger,
      broker,
      registry: createMetrics({ service: 'gateway' }).registry,
      knex,
      clock: systemClock,
      replicaId: options.name,
    });
    opened.push(() => app.stop());
    const { url } = await app.start();
    return { env, knex, broker, app, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
