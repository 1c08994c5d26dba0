import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { defineRpc } from './rpc.ts';

const count = z.number().int().nonnegative();
const iso = z.iso.datetime();

/** Sent every few seconds by each worker process, and once with `stopping` when it stops. */
export const workerHeartbeat = defineMessage(
  'worker.heartbeat',
  1,
  z.object({
    workerId: z.string().min(1).max(200),
    service: z.string().min(1).max(100),
    host: z.string().max(255),
    pid: z.number().int().positive(),
    startedAt: iso,
    at: iso,
    /** The worker is gone after 3 missed intervals. */
    intervalMs: z.number().int().positive(),
    stopping: z.boolean().default(false),
    currentJobs: z.array(z.string()).max(1_000),
    processed: z.object({ succeeded: count, failed: count }),
    /** Names (platform ids) of breakers currently open in this process. */
    openBreakers: z.array(z.string()).max(1_000).default([]),
  }),
);
export type WorkerHeartbeat = z.infer<typeof workerHeartbeat.payload>;

export const workerView = workerHeartbeat.payload.omit({ stopping: true }).extend({
  lastSeenAt: iso,
});

export const monitoringWorkers = defineRpc(
  'collector',
  'monitoring.workers',
  z.object({}),
  z.object({ items: z.array(workerView) }),
);

export const queueStats = z.object({
  name: z.string(),
  exists: z.boolean(),
  ready: count,
  /** null when only passive declares are available (no management API). */
  unacked: count.nullable(),
  consumers: count,
  publishRate: z.number().nullable(),
  deliverRate: z.number().nullable(),
  deadLetter: count.nullable(),
});
export type QueueStats = z.infer<typeof queueStats>;

export const PIPELINE_STATUSES = ['idle', 'busy', 'degraded', 'stalled'] as const;
