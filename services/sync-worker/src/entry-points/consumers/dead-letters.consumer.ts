import { randomUUID } from 'node:crypto';
import { HEADERS, QUEUES, jobRun } from '@psc/contracts';
import { createConsumeLoop, type Broker, type ConsumeLoop, type Topology } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { DeadLetterRepository } from '../../data-access/dead-letter.repository.ts';

const RAW_PREFIX_BYTES = 2_000;

type Handle = Parameters<typeof createConsumeLoop>[0]['handle'];
type ConfirmChannel = Parameters<Handle>[0];
type ConsumeMessage = Parameters<Handle>[1];

/** Why the broker dead-lettered a message that never passed through our consumer. */
function brokerReason(headers: Record<string, unknown>): string {
  const death = (headers['x-death'] as { reason?: string }[] | undefined)?.[0];
  return death?.reason ? `broker: ${death.reason}` : 'unknown';
}

/**
 * Moves `sync-worker.jobs.dead-letter` into `sync.dead_letters`, where the DLQ API lists,
 * replays and deletes them: stored first, acked after the commit, so nothing is lost. Anything
 * arrives here, poison included; a body that is not JSON is kept as a short prefix.
 */
export function createDeadLettersConsumer(deps: {
  broker: Broker;
  topology: Topology;
  deadLetters: DeadLetterRepository;
  logger: Logger;
}): ConsumeLoop {
  async function handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const headers = msg.properties.headers ?? {};
    let json: unknown = null;
    try {
      json = JSON.parse(msg.content.toString('utf8'));
    } catch {
      json = null;
    }
    const parsed = jobRun.envelope.safeParse(json);
    const job = parsed.success ? parsed.data.payload : undefined;
    const attempts = Number(headers[HEADERS.attempt] ?? 1);
    const deadAt = Date.parse(String(headers[HEADERS.deadAt] ?? ''));
    await deps.deadLetters.insert({
      id: (msg.properties.messageId as string | undefined) ?? randomUUID(),
      job_id: job?.jobId ?? null,
      platform_id: job?.platformId ?? null,
      resource: job?.resource ?? null,
      task_type: job?.taskType ?? null,
      queue: String(headers[HEADERS.deadQueue] ?? QUEUES.syncJobs),
      reason: String(headers[HEADERS.deadReason] ?? brokerReason(headers)).slice(0, 1_000),
      attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 1,
      priority: (msg.properties.priority as number | undefined) ?? null,
      envelope: parsed.success ? parsed.data : null,
      raw: parsed.success ? null : msg.content.subarray(0, RAW_PREFIX_BYTES).toString('utf8'),
      dead_at: Number.isFinite(deadAt) ? new Date(deadAt) : new Date(),
    });
    ch.ack(msg);
  }
  return createConsumeLoop({
    broker: deps.broker,
    name: 'consumer.dead-letters',
    queue: QUEUES.deadLetter(QUEUES.syncJobs),
    topology: deps.topology,
    prefetch: 20,
    logger: deps.logger.child({ component: 'dead-letters' }),
    handle,
  });
}
