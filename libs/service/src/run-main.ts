import { ConfigError } from '@psc/core';

export interface Stoppable {
  stop(): Promise<void>;
}

interface MainLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Runs a service's composition root: start it, stop it gracefully on SIGTERM/SIGINT or when its
 * `stopWhen` settles (exit 0), exit 1 on a start failure with one line naming the cause, and on
 * an unhandled error.
 */
export function runMain(options: {
  name: string;
  start: () => Promise<{ app: Stoppable; logger: MainLogger; stopWhen?: Promise<string> }>;
  /** Hard limit for a graceful stop before the process exits anyway. */
  stopTimeoutMs?: number;
}): void {
  const fail = (line: string): never => {
    process.stderr.write(`${options.name}: ${line}\n`);
    process.exit(1);
  };
  options
    .start()
    .then(({ app, logger, stopWhen }) => {
      let stopping = false;
      /** `cause`: the signal, or what the app's `stopWhen` said. */
      const shutdown = (cause: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ cause }, 'stopping');
        const timer = setTimeout(() => {
          logger.error({ cause }, 'graceful stop timed out');
          process.exit(1);
        }, options.stopTimeoutMs ?? 30_000);
        timer.unref();
        app.stop().then(
          () => {
            logger.info({}, 'stopped');
            process.exit(0);
          },
          (err: unknown) => {
            logger.error({ err }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('unhandledRejection', (err) => {
        logger.error({ err }, 'unhandled rejection');
        process.exit(1);
      });
      process.on('uncaughtException', (err) => {
        logger.error({ err }, 'uncaught exception');
        process.exit(1);
      });
      // After the handlers: a stop it asks for goes the same way as a signal's.
      void stopWhen?.then((cause) => shutdown(cause));
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) fail(err.message);
      fail(
        `cannot start: ${err instanceof Error ? err.message : String(err)}`.split('\n')[0] ?? '',
      );
    });
}
