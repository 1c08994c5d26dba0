import type { QueueStats } from '@psc/contracts';

export type PipelineStatus = 'idle' | 'busy' | 'degraded' | 'stalled';

export interface PipelineInput {
  queues: QueueStats[];
  /** Dead-letter depths seen a while ago, by queue: growth since then means degraded. */
  earlierDeadLetters: Map<string, number>;
  openBreakers: { platformId: string; workerId: string }[];
  runningJobs: number;
  /** Sources that could not be asked (e.g. the collector is down). */
  unavailable: string[];
}

/** One overall word for the pipeline, worst first, with every reason that led to it. */
export function pipelineStatus(input: PipelineInput): {
  status: PipelineStatus;
  reasons: string[];
} {
  const stalled = input.queues
    .filter((q) => q.exists && q.ready > 0 && q.consumers === 0)
    .map((q) => `${q.name}: ${q.ready} message(s) waiting and no consumer`);
  const degraded = [
    ...input.openBreakers.map((b) => `breaker open for platform ${b.platformId} on ${b.workerId}`),
    ...input.queues.flatMap((q) => {
      const before = input.earlierDeadLetters.get(q.name);
      return q.deadLetter !== null && before !== undefined && q.deadLetter > before
        ? [`${QUEUE_DLQ(q.name)} grew from ${before} to ${q.deadLetter}`]
        : [];
    }),
    ...input.unavailable.map((s) => `${s} unavailable`),
  ];
  const busy = [
    ...input.queues
      .filter((q) => q.ready > 0 || (q.unacked ?? 0) > 0)
      .map((q) => `${q.name}: ${q.ready} ready, ${q.unacked ?? '?'} unacked`),
    ...(input.runningJobs > 0 ? [`${input.runningJobs} job(s) running`] : []),
  ];
  if (stalled.length > 0) return { status: 'stalled', reasons: [...stalled, ...degraded] };
  if (degraded.length > 0) return { status: 'degraded', reasons: degraded };
  if (busy.length > 0) return { status: 'busy', reasons: busy };
  return { status: 'idle', reasons: [] };
}

const QUEUE_DLQ = (name: string): string => `${name}.dead-letter`;
