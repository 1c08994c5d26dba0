import { QUEUE_SPECS, type LogEntry, type WorkerHeartbeat } from '@psc/contracts';
import { createBatchConsumer, type Broker, type Consumer, type MessageOf } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { LogRepository } from '../../data-access/log.repository.ts';
import type { WorkerRepository } from '../../data-access/worker.repository.ts';

type OpsMessage = MessageOf<(typeof QUEUE_SPECS.collectorOpsEvents.accepts)[number]>;

/** A job event as a log line; undefined for anything else. */
function jobEntry(m: OpsMessage): LogEntry | undefined {
  if (m.type === 'log.recorded' || m.type === 'worker.heartbeat') return undefined;
  const p = m.payload;
  const base = {
    at: p.at,
    service: 'jobs',
    platformId: p.platformId ?? null,
    jobId: p.jobId,
    traceId: null,
  };
  switch (m.type) {
    case 'job.started':
      return {
        ...base,
        level: 'info',
        message: `job started (attempt ${p.attempt})`,
        fields: { workerId: m.payload.workerId, run: p.run },
      };
    case 'job.waiting':
      return {
        ...base,
        level: 'warn',
        message: `job waiting: ${m.payload.reason}`,
        fields: { nextAttemptAt: m.payload.nextAttemptAt, attempt: p.attempt, run: p.run },
      };
    case 'job.failed': {
      const { outcome, error } = m.payload;
      return {
        ...base,
        level: outcome === 'retrying' || outcome === 'cancelled' ? 'warn' : 'error',
        message: `job ${outcome}: ${error.message}`,
        fields: { class: error.class, attempt: p.attempt, outcome, run: p.run },
      };
    }
  }
}

/**
 * The operator's window: log entries from every service, job events as log entries (a success
 * is the worker's own `job succeeded` line, not an event), and worker heartbeats, stored in
 * batches. Each entry is keyed by its own id (a job event's is the event's id), so a redelivery
 * stores nothing twice.
 */
export function createOpsEventsConsumer(deps: {
  broker: Broker;
  logs: LogRepository;
  workers: WorkerRepository;
  isTransient: (err: unknown) => boolean;
  logger: Logger;
}): Consumer {
  return createBatchConsumer({
    broker: deps.broker,
    queue: QUEUE_SPECS.collectorOpsEvents,
    logger: deps.logger,
    isTransient: deps.isTransient,
    // Nobody waits on a log line: a quarter second lets one insert serve every job event and
    // shipped batch of the window, instead of one transaction per job.
    lingerMs: 250,
    async handleBatch(messages) {
      const entries: { id: string; entry: LogEntry }[] = [];
      const beats = new Map<string, WorkerHeartbeat>();
      for (const m of messages) {
        if (m.type === 'worker.heartbeat') beats.set(m.payload.workerId, m.payload);
        else if (m.type === 'log.recorded')
          for (const { id, ...entry } of m.payload.entries) entries.push({ id, entry });
        else {
          const entry = jobEntry(m);
          if (entry) entries.push({ id: m.id, entry });
        }
      }
      await deps.logs.insertMany(entries);
      for (const beat of beats.values()) await deps.workers.record(beat);
    },
  });
}
