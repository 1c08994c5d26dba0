import { hostname } from 'node:os';
import { context, createContextKey, type Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { EXCHANGES, workerHeartbeat, type WorkerHeartbeat } from '@psc/contracts';
import type { Consumer } from './consumer.ts';
import { createEnvelope } from './envelope.ts';
import type { Publisher } from './publisher.ts';

/**
 * The OpenTelemetry SDK's suppress-tracing flag (`suppressTracing` of @opentelemetry/core, whose
 * key is this `Symbol.for` description): spans started under it are not recorded.
 */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const UNTRACED = (ctx: Context): Context => ctx.setValue(SUPPRESS_TRACING, true);

export interface HeartbeatState {
  currentJobs: string[];
  openBreakers?: string[];
}

/** Counts what a consumer finished: acked as succeeded, dead-lettered as failed. */
export function countProcessed(consumer: Consumer): { succeeded: number; failed: number } {
  const counts = { succeeded: 0, failed: 0 };
  consumer.on('acked', () => (counts.succeeded += 1));
  consumer.on('dead-lettered', () => (counts.failed += 1));
  return counts;
}

/**
 * Publishes `worker.heartbeat` every `intervalMs` (best effort: a missed beat only makes the
 * worker look gone for a while), and a last one with `stopping` on stop.
 */
export function createHeartbeat(options: {
  publisher: Publisher;
  service: string;
  workerId: string;
  intervalMs: number;
  processed: { succeeded: number; failed: number };
  state: () => HeartbeatState;
  logger: Logger;
}) {
  const startedAt = new Date().toISOString();
  let timer: NodeJS.Timeout | undefined;

  function beat(stopping: boolean): Promise<void> {
    const state = options.state();
    const payload: WorkerHeartbeat = {
      workerId: options.workerId,
      service: options.service,
      host: hostname(),
      pid: process.pid,
      startedAt,
      at: new Date().toISOString(),
      intervalMs: options.intervalMs,
      stopping,
      currentJobs: state.currentJobs.slice(0, 1_000),
      processed: { ...options.processed },
      openBreakers: state.openBreakers ?? [],
    };
    // Not traced: with an exporter, heartbeats would otherwise be most of the traces.
    return context
      .with(UNTRACED(context.active()), () =>
        options.publisher.publish(
          EXCHANGES.events,
          workerHeartbeat.type,
          createEnvelope(workerHeartbeat, payload),
        ),
      )
      .catch((err: unknown) =>
        options.logger.debug({ err: (err as Error).message }, 'heartbeat not published'),
      );
  }

  return {
    start(): void {
      void beat(false);
      timer = setInterval(() => void beat(false), options.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await beat(true);
    },
  };
}

export type Heartbeat = ReturnType<typeof createHeartbeat>;
