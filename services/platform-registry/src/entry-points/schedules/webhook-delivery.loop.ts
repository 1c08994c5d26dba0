import type { Clock } from '@psc/core';
import type { Logger } from '@psc/telemetry';
import type { WebhookRepository } from '../../data-access/webhook.repository.ts';
import type { WebhookSender } from '../../data-access/webhook-sender.ts';
import {
  afterAttempt,
  disableReason,
  type AttemptResult,
  type WebhookRetryPolicy,
} from '../../domain/webhook-retry.ts';

/** Deliveries sent at once per pass: bounds open connections and the lease's batch. */
const BATCH = 20;

/**
 * Sends due webhook deliveries from the table, so they outlive restarts: every replica polls,
 * each claims its own rows (`skip locked`) under a lease longer than an attempt can take.
 */
/** A delivery whose signing secret does not open: a failed attempt, so retries and disabling apply. */
const UNOPENED_SECRET: AttemptResult = {
  statusCode: null,
  latencyMs: 0,
  error:
    'not sent: the subscription’s signing secret does not open with PSC_SECRET_KEY or PSC_SECRET_KEY_PREVIOUS (stored under another key, or damaged); start the registry with that key, or create the subscription again',
};

export function createWebhookDeliveryLoop(deps: {
  repository: WebhookRepository;
  sender: WebhookSender;
  clock: Clock;
  policy: WebhookRetryPolicy & { timeoutMs: number; pollMs: number };
  logger: Logger;
}) {
  const { repository, policy } = deps;
  const log = deps.logger.child({ component: 'webhooks' });
  const leaseMs = policy.timeoutMs * 2 + 5_000;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;

  async function once(): Promise<number> {
    const due = await repository.claimDue(deps.clock.now(), leaseMs, BATCH);
    await Promise.all(
      due.map(async (d) => {
        const result =
          d.secret === undefined
            ? UNOPENED_SECRET
            : await deps.sender.send({ ...d, secret: d.secret });
        const at = deps.clock.now();
        const next = afterAttempt(d.attempt, result, at, policy);
        await repository.recordAttempt(d, result, next, at, (failures) => {
          const reason = disableReason(failures, result, policy);
          if (reason) log.warn({ webhookId: d.webhookId, reason }, 'webhook disabled');
          return reason;
        });
        if (next.status === 'failed') {
          log.warn({ webhookId: d.webhookId, deliveryId: d.id }, 'webhook delivery given up');
        }
      }),
    );
    return due.length;
  }

  return {
    once,
    start(): void {
      timer = setInterval(() => {
        if (current) return;
        current = once()
          .then(() => undefined)
          .catch((err: unknown) => log.error({ err }, 'webhook delivery pass failed'))
          .finally(() => {
            current = undefined;
          });
      }, policy.pollMs);
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await current;
    },
  };
}
