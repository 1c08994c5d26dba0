/** What the retry rules need to know; from `PSC_WEBHOOK_*`. */
export interface WebhookRetryPolicy {
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  disableAfter: number;
}

/**
 * How long after failed attempt `attempt` the next one starts: full jitter over an exponential
 * ceiling, so a receiver that was down for everyone is not hit by every retry in one second.
 */
export function retryDelayMs(
  attempt: number,
  policy: Pick<WebhookRetryPolicy, 'retryBaseMs' | 'retryMaxMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(1, Math.round(random() * ceiling));
}

export interface AttemptResult {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

/** A 2xx is the receiver's acceptance; anything else, or no answer, is a failed attempt. */
const accepted = (r: AttemptResult): boolean =>
  r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

/** The delivery's next state after attempt `attempt`. */
export function afterAttempt(
  attempt: number,
  result: AttemptResult,
  now: Date,
  policy: WebhookRetryPolicy,
  random?: () => number,
): { status: 'succeeded' | 'failed' | 'pending'; nextAttemptAt: Date | null } {
  if (accepted(result)) return { status: 'succeeded', nextAttemptAt: null };
  if (attempt >= policy.maxAttempts) return { status: 'failed', nextAttemptAt: null };
  return {
    status: 'pending',
    nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempt, policy, random)),
  };
}

/** Why a subscription is switched off after `failures` failed attempts in a row, or undefined. */
export function disableReason(
  failures: number,
  result: AttemptResult,
  policy: Pick<WebhookRetryPolicy, 'disableAfter'>,
): string | undefined {
  if (failures < policy.disableAfter) return undefined;
  const last = result.statusCode !== null ? `HTTP ${result.statusCode}` : (result.error ?? '?');
  return `disabled after ${failures} failed delivery attempts in a row (last: ${last})`.slice(
    0,
    1_000,
  );
}
