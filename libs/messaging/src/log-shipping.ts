import { randomUUID } from 'node:crypto';
import { EXCHANGES, LOG_ENTRIES_PER_MESSAGE, logRecorded, type LogEntry } from '@psc/contracts';
import type { Broker } from './broker.ts';
import { createEnvelope } from './envelope.ts';
import { createPublisher } from './publisher.ts';
import { baseTopology } from './topology.ts';

/** The slice of `@psc/telemetry`'s LogShipper that sending needs. */
interface Shipper {
  start(send: (entries: LogEntry[]) => Promise<void>): void;
  stop(): Promise<void>;
}

/**
 * Sends what a service's log shipper (`@psc/telemetry` createLogShipper) keeps as `log.recorded`
 * events (one per batch it ships, up to LOG_ENTRIES_PER_MESSAGE entries each), for the collector's log store (`GET /api/v1/logs`). On a publisher of its own, straight
 * to the broker rather than through an outbox: a log line is not worth a database write, and
 * while the broker is away lines are dropped and counted by the shipper.
 */
export function startLogShipping(options: { shipper: Shipper; broker: Broker; appId: string }) {
  const publisher = createPublisher({
    broker: options.broker,
    topology: baseTopology,
    appId: options.appId,
  });
  options.shipper.start(async (entries) => {
    if (!options.broker.isConnected()) throw new Error('RabbitMQ not connected');
    const now = new Date();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < entries.length; i += LOG_ENTRIES_PER_MESSAGE) {
      const chunk = entries
        .slice(i, i + LOG_ENTRIES_PER_MESSAGE)
        .map((entry) => ({ ...entry, id: randomUUID() }));
      sends.push(
        publisher.publish(
          EXCHANGES.events,
          logRecorded.type,
          createEnvelope(logRecorded, { entries: chunk }, { now }),
        ),
      );
    }
    await Promise.all(sends);
  });
  return {
    /** Sends what is left, then closes the publisher. */
    async stop(): Promise<void> {
      await options.shipper.stop();
      await publisher.close();
    },
  };
}
