import { runMain, systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import { createBroker, startLogShipping } from '@psc/messaging';
import { configureExpressions } from '@psc/platform-http';
import { createLogShipper, createLogger, createMetrics, shutdownTelemetry } from '@psc/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

const SERVICE = 'platform-registry';

runMain({
  name: SERVICE,
  async start() {
    const config = loadConfig(process.env);
    configureExpressions(config.expressionBudget);
    // Warnings, errors and job lines also go to GET /api/v1/logs, once the broker is up.
    const shipper = createLogShipper({ service: SERVICE });
    const logger = createLogger({ service: SERVICE, level: config.logLevel, shipper });
    const knex = await openDatabase({
      url: config.databaseUrl,
      schema: SCHEMA,
      migrations,
      applicationName: SERVICE,
      logger,
    });
    const broker = createBroker({ url: config.amqpUrl, connectionName: SERVICE, logger });
    const publishBroker = createBroker({
      url: config.amqpUrl,
      connectionName: `${SERVICE}.publish`,
      logger,
    });
    const metrics = createMetrics({ service: SERVICE });
    const app = createApp({
      config,
      logger,
      knex,
      broker,
      publishBroker,
      registry: metrics.registry,
      clock: systemClock,
    });
    await app.start();
    const logShipping = startLogShipping({ shipper, broker, appId: SERVICE });
    return {
      logger,
      app: {
        async stop() {
          await app.stop();
          await logShipping.stop();
          await broker.close();
          await publishBroker.close();
          await knex.destroy();
          await shutdownTelemetry();
        },
      },
    };
  },
});
