import { stopInOrder, systemClock, type Clock, type StopStep } from '@psc/core';
import { openDatabase, type OpenDatabaseOptions } from '@psc/db';
import { createBroker, startLogShipping, type Broker } from '@psc/messaging';
import {
  createLogShipper,
  createLogger,
  createMetrics,
  shutdownTelemetry,
  type Logger,
  type Metrics,
} from '@psc/telemetry';
import { runMain } from './run-main.ts';

/** What the bootstrap reads from every service's config. */
interface ServiceConfig {
  databaseUrl: string;
  amqpUrl: string;
  logLevel: string;
}

// Named through @psc/db, so this package needs no knex of its own.
type Knex = Awaited<ReturnType<typeof openDatabase>>;

interface ServiceApp {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/** What every service's `createApp` is given; a service adds its own deps to these. */
export interface ServiceDeps<C> {
  config: C;
  logger: Logger;
  /** Migrated to `latest` before `createApp` is called. */
  knex: Knex;
  /** The service's AMQP connection, named after it. */
  broker: Broker;
  registry: Metrics['registry'];
  clock: Clock;
  /** Opens one more AMQP connection, named `<service>.<role>`; closed right after `broker`. */
  connectBroker: (role: string) => Broker;
}

export interface RunServiceOptions<C extends ServiceConfig, A extends ServiceApp> {
  /** The service's name: log `service`, metrics label, AMQP connection and `application_name`. */
  name: string;
  /** Parses the service's env; a `ConfigError` thrown here is the one-line start-up failure. */
  loadConfig: () => C;
  /** The schema the service owns, and its migrations. */
  schema: string;
  migrations: OpenDatabaseOptions['migrations'];
  /** Lock wait limit for every statement of the service (`DbOptions.lockTimeoutMs`); none if omitted. */
  lockTimeoutMs?: (config: C) => number;
  createApp: (deps: ServiceDeps<C>) => A;
  /**
   * Batch mode: when the process is started with `--until-drained`, it stops the usual graceful
   * way once this resolves.
   */
  untilDrained?: (app: A) => Promise<unknown>;
}

/**
 * The one way a psc service process starts (its `main.ts`): config, logger, database (migrated),
 * broker, metrics, `createApp(deps).start()`, then log shipping; under `runMain`, so SIGTERM stops
 * the app, log shipping, the broker connections, the pool and telemetry, in that order, each even
 * when one before it failed.
 */
export function runService<C extends ServiceConfig, A extends ServiceApp>(
  options: RunServiceOptions<C, A>,
): void {
  const { name } = options;
  runMain({
    name,
    async start() {
      const config = options.loadConfig();
      // Warnings, errors and job lines also go to GET /api/v1/logs, once the broker is up.
      const shipper = createLogShipper({ service: name });
      const logger = createLogger({ service: name, level: config.logLevel, shipper });
      const knex = await openDatabase({
        url: config.databaseUrl,
        schema: options.schema,
        migrations: options.migrations,
        applicationName: name,
        ...(options.lockTimeoutMs ? { lockTimeoutMs: options.lockTimeoutMs(config) } : {}),
        logger,
      });
      const broker = createBroker({ url: config.amqpUrl, connectionName: name, logger });
      const brokers = [broker];
      const connectBroker = (role: string): Broker => {
        const extra = createBroker({
          url: config.amqpUrl,
          connectionName: `${name}.${role}`,
          logger,
        });
        brokers.push(extra);
        return extra;
      };
      const metrics = createMetrics({ service: name });
      const app = options.createApp({
        config,
        logger,
        knex,
        broker,
        registry: metrics.registry,
        clock: systemClock,
        connectBroker,
      });
      await app.start();
      const logShipping = startLogShipping({ shipper, broker, appId: name });
      const drained =
        options.untilDrained && process.argv.includes('--until-drained')
          ? options.untilDrained(app).then(() => {
              logger.info({}, 'queues drained; stopping');
              return 'drained';
            })
          : undefined;
      return {
        logger,
        ...(drained ? { stopWhen: drained } : {}),
        app: {
          async stop() {
            // An app that fails to stop must still ship what it logged meanwhile (the lines that
            // say why), close its connections and flush its spans. Exit 1 all the same.
            await stopInOrder(
              [
                ['app', () => app.stop()],
                ['log shipping', () => logShipping.stop()],
                ...brokers.map((b): StopStep => ['broker', () => b.close()]),
                ['database', () => knex.destroy()],
                ['telemetry', () => shutdownTelemetry()],
              ],
              (step, err) => logger.error({ err, step }, 'stop step failed'),
            );
          },
        },
      };
    },
  });
}
