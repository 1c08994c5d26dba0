import { runMain, systemClock } from '@psc/core';
import { openDatabase } from '@psc/db';
import { createBroker, startLogShipping } from '@psc/messaging';
import { configureExpressions } from '@psc/platform-http';
import { createLogShipper, createLogger, createMetrics, shutdownTelemetry } from '@psc/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

const SERVICE = 'sync-worker';

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
      // Every statement, a job's included: a frozen worker's locks hold a job up this long at most.
      lockTimeoutMs: config.lockTimeoutMs,
      logger,
    });
    const broker = createBroker({ url: config.amqpUrl, connectionName: SERVICE, logger });
    const metrics = createMetrics({ service: SERVICE });
    const app = createApp({
      config,
      logger,
      knex,
      broker,
      registry: metrics.registry,
      clock: systemClock,
    });
    await app.start();
    const logShipping = startLogShipping({ shipper, broker, appId: SERVICE });
    if (process.argv.includes('--until-drained')) {
      // Batch mode (seed 003): the usual graceful stop, once there is nothing left to do.
      void app.untilDrained().then(() => {
        logger.info({}, 'queues drained; stopping');
        process.kill(process.pid, 'SIGTERM');
      });
    }
    return {
      logger,
      app: {
        async stop() {
          await app.stop();
          await logShipping.stop();
          await broker.close();
          await knex.destroy();
          await shutdownTelemetry();
        },
      },
    };
  },
});
