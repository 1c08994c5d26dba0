import {
  COLLECTOR_OPS_QUEUE,
  EXCHANGES,
  jobFailed,
  jobStarted,
  jobSucceeded,
  logRecorded,
  workerHeartbeat,
  type LogEntry,
  type PayloadOf,
} from '@psc/contracts';
import {
  baseTopology,
  createConsumer,
  mergeTopologies,
  workQueue,
  type Broker,
  type Consumer,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { LogRepository } from '../../data-access/log.repository.ts';
import type { WorkerRepository } from '../../data-access/worker.repository.ts';
import type { CollectionRepository } from '../../data-access/collection.repository.ts';

const ACCEPTS = [logRecorded, workerHeartbeat, jobStarted, jobSucceeded, jobFailed] as const;

export const opsEventsTopology = mergeTopologies(
  baseTopology,
  workQueue({
    name: COLLECTOR_OPS_QUEUE,
    bindings: ACCEPTS.map((m) => ({ exchange: EXCHANGES.events, routingKey: m.type })),
  }),
);

/**
 * The operator's window: log entries from every service, job events as log entries, and worker
 * heartbeats. Each entry is keyed by its event id, so a redelivery stores nothing twice.
 */
export function createOpsEventsConsumer(deps: {
  broker: Broker;
  logs: LogRepository;
  workers: WorkerRepository;
  collections: CollectionRepository;
  logger: Logger;
}): Consumer {
  async function jobEntry(type: string, payload: unknown): Promise<LogEntry> {
    const p = payload as PayloadOf<typeof jobFailed> & PayloadOf<typeof jobStarted>;
    const platformId = (await deps.collections.find(p.jobId))?.platformId ?? null;
    const base = { at: p.at, service: 'jobs', platformId, jobId: p.jobId, traceId: null };
    if (type === jobStarted.type) {
      return {
        ...base,
        level: 'info',
        message: `job started (attempt ${p.attempt})`,
        fields: { workerId: p.workerId },
      };
    }
    if (type === jobSucceeded.type) {
      const s = payload as PayloadOf<typeof jobSucceeded>;
      return { ...base, level: 'info', message: 'job succeeded', fields: { stats: s.stats } };
    }
    return {
      ...base,
      level: p.outcome === 'retrying' || p.outcome === 'cancelled' ? 'warn' : 'error',
      message: `job ${p.outcome}: ${p.error.message}`,
      fields: { class: p.error.class, attempt: p.attempt, outcome: p.outcome },
    };
  }

  return createConsumer({
    broker: deps.broker,
    queue: COLLECTOR_OPS_QUEUE,
    topology: opsEventsTopology,
    accepts: ACCEPTS,
    logger: deps.logger,
    prefetch: 50,
    async handler(envelope) {
      if (envelope.type === workerHeartbeat.type) {
        await deps.workers.record(envelope.payload as PayloadOf<typeof workerHeartbeat>);
        return;
      }
      const entry =
        envelope.type === logRecorded.type
          ? (envelope.payload as LogEntry)
          : await jobEntry(envelope.type, envelope.payload);
      await deps.logs.insert(entry, envelope.id);
    },
  });
}
