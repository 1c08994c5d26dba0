import { createHash } from 'node:crypto';
import { delay } from '@psc/core';
import { DEAD_LETTER_SOURCES, HEADERS, QUEUES, jobRun } from '@psc/contracts';
import {
  baseTopology,
  createConsumeLoop,
  createHold,
  mergeTopologies,
  type Broker,
  type ConsumeLoop,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { DeadLetterRepository } from '../../data-access/dead-letter.repository.ts';
import type { LedgerStore } from '../../data-access/ledger.store.ts';
import { POISON_BODY_PREFIX } from '../../domain/dead-letter-detail.ts';

type Handle = Parameters<typeof createConsumeLoop>[0]['handle'];
type Channel = Parameters<Handle>[0];
type ConsumeMessage = Parameters<Handle>[1];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The same dead letter, however often the broker hands it over, gets the same id. */
function letterId(queue: string, msg: ConsumeMessage): string {
  const h = createHash('sha256')
    .update(queue)
    .update(String(msg.properties.messageId ?? ''))
    .update(msg.content)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function brokerReason(headers: Record<string, unknown>): string {
  const death = (headers['x-death'] as { reason?: string }[] | undefined)?.[0];
  return death?.reason ? `broker: ${death.reason}` : 'unknown';
}

/** A job id the (unreadable) body still names, if any. */
function namedJob(body: unknown): { jobId: string; run: number } | undefined {
  const b = body as { type?: unknown; payload?: { jobId?: unknown; run?: unknown } } | null;
  if (b?.type !== jobRun.type || typeof b.payload?.jobId !== 'string') return undefined;
  if (!UUID.test(b.payload.jobId)) return undefined;
  const run = Number.isInteger(b.payload.run) ? (b.payload.run as number) : 1;
  return { jobId: b.payload.jobId, run };
}

/**
 * Moves what any queue parked in its `<queue>.dead-letter` into the ledger's dead-letter queue,
 * stored before it is acked. A `job.run` nobody could read fails its job (`dead`, reason
 * `poison_message: …`), so the ledger never waits for a run that cannot happen; anything else is
 * kept as a poison letter with headers and a prefix of its body.
 */
export function createDeadLettersConsumers(deps: {
  broker: Broker;
  deadLetters: DeadLetterRepository;
  ledger: LedgerStore;
  logger: Logger;
}): ConsumeLoop[] {
  const log = deps.logger.child({ component: 'dead-letters' });
  return DEAD_LETTER_SOURCES.map((source) => {
    const dlq = QUEUES.deadLetter(source.name);
    const held = createHold();
    return createConsumeLoop({
      broker: deps.broker,
      name: `dead-letters.${source.name}`,
      queue: dlq,
      topology: mergeTopologies(baseTopology, {
        exchanges: [],
        queues: [{ name: dlq, options: { durable: true }, bindings: [] }],
      }),
      prefetch: 20,
      logger: log,
      async handle(ch, msg) {
        try {
          await record(ch, msg);
          held.reset();
        } catch (err) {
          // The ledger could not take it (its database away, say). Left unacked, the letter
          // would stay on this channel, which stays open, and at the prefetch no letter would be
          // taken any more: it goes back to the queue after a wait that grows while this lasts.
          const holdMs = held.take();
          log.warn(
            { err: err instanceof Error ? err.message : String(err), holdMs },
            'dead letter not recorded; put back in its queue',
          );
          await delay(holdMs);
          ch.nack(msg, false, true);
        }
      },
    });

    async function record(ch: Channel, msg: ConsumeMessage): Promise<void> {
      const headers = msg.properties.headers ?? {};
      const reason = String(headers[HEADERS.deadReason] ?? brokerReason(headers)).slice(0, 1_000);
      const queue = String(headers[HEADERS.deadQueue] ?? source.name);
      const text = msg.content.toString('utf8');
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      const job = namedJob(body);
      const at = new Date();
      const failed = job
        ? await deps.ledger.apply([
            {
              type: 'job.failed',
              payload: {
                ...job,
                attempt: 1,
                at: at.toISOString(),
                error: { class: 'poison_message', message: reason },
                outcome: 'dead',
              },
            },
          ])
        : [];
      // A job the ledger just failed is in the queue as that job (and can be replayed).
      if (failed.length > 0) {
        ch.ack(msg);
        return;
      }
      await deps.deadLetters.addPoison({
        id: letterId(queue, msg),
        jobId: job?.jobId ?? null,
        queue,
        reason,
        message: {
          type: stringOrNull(msg.properties.type),
          messageId: stringOrNull(msg.properties.messageId),
          headers,
          body: text.slice(0, POISON_BODY_PREFIX),
          truncated: text.length > POISON_BODY_PREFIX,
        },
        deadAt: at,
      });
      ch.ack(msg);
    }
  });
}
