import { runMain } from '@psc/core';
import { createBroker } from '@psc/messaging';
import { createLogger, createMetrics, shutdownTelemetry } from '@psc/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';

const SERVICE = 'gateway';

runMain({
  name: SERVICE,
  async start() {
    const config = loadConfig(process.env);
    const logger = createLogger({ service: SERVICE, level: config.logLevel });
    const broker = createBroker({ url: config.amqpUrl, connectionName: SERVICE, logger });
    const metrics = createMetrics({ service: SERVICE });
    const app = createApp({ config, logger, broker, registry: metrics.registry });
    await app.start();
    return {
      logger,
      app: {
        async stop() {
          await app.stop();
          await broker.close();
          await shutdownTelemetry();
        },
      },
    };
  },
});
