import { z } from 'zod';
import { commonEnv, intEnv, parseEnv, portEnv, secretKeyEnv, secretKeysEnv } from '@psc/core';
import { expressionBudgetEnv, expressionBudgetOf } from '@psc/platform-http';

const int = (min: number, max: number, fallback: number) => intEnv(min, max).default(fallback);

const schema = z
  .object({
    ...commonEnv,
    HTTP_PORT: portEnv(8081),
    /** Encrypts platform credentials at rest (AES-256-GCM). */
    PSC_SECRET_KEY: secretKeyEnv(),
    /**
     * Keys PSC_SECRET_KEY held before a rotation, comma-separated: they open what they sealed
     * until the registry has sealed it again under PSC_SECRET_KEY (at each start).
     */
    PSC_SECRET_KEY_PREVIOUS: secretKeysEnv(),
    /**
     * Seals the credentials in `platform.get-with-secrets` replies for the sync-worker and the
     * collector, which hold the same key; other broker clients see only the sealed form.
     */
    PSC_WORKER_SECRET_KEY: secretKeyEnv(),
    /** Hosts, addresses and CIDRs platforms may use although they are loopback or private. */
    PSC_EGRESS_ALLOW: z.string().default(''),
    /** Budget of each JSONata evaluation: save-time dry runs and `/test`. */
    ...expressionBudgetEnv,
    /** Attempts of one webhook delivery before it is given up (`failed`). */
    PSC_WEBHOOK_MAX_ATTEMPTS: int(1, 50, 8),
    /** Retry n waits a random time up to min(base × 2^(n-1), max): full jitter. */
    PSC_WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000, 5_000),
    PSC_WEBHOOK_RETRY_MAX_MS: int(10, 86_400_000, 3_600_000),
    /** Failed attempts in a row after which a subscription is switched off, with the reason. */
    PSC_WEBHOOK_DISABLE_AFTER: int(1, 10_000, 10),
    /** Per attempt: the receiver must answer within it. */
    PSC_WEBHOOK_TIMEOUT_MS: int(100, 60_000, 10_000),
    /** How often due deliveries are looked for. */
    PSC_WEBHOOK_POLL_MS: int(20, 60_000, 1_000),
    /** Finished deliveries are kept this long in each subscription's log. */
    PSC_WEBHOOK_RETENTION_DAYS: int(1, 365, 7),
  })
  // The workers hold the worker key: were it the at-rest key, they could open a database dump.
  .refine((e) => !e.PSC_SECRET_KEY.equals(e.PSC_WORKER_SECRET_KEY), {
    path: ['PSC_WORKER_SECRET_KEY'],
    message: 'must differ from PSC_SECRET_KEY',
  })
  // Nor may a previous at-rest key be the workers': dumps from before the rotation hold its seals.
  .refine((e) => !e.PSC_SECRET_KEY_PREVIOUS.some((k) => k.equals(e.PSC_WORKER_SECRET_KEY)), {
    path: ['PSC_SECRET_KEY_PREVIOUS'],
    message: 'must not hold PSC_WORKER_SECRET_KEY',
  })
  // A rotation that left the current key among the previous ones changed nothing.
  .refine((e) => !e.PSC_SECRET_KEY_PREVIOUS.some((k) => k.equals(e.PSC_SECRET_KEY)), {
    path: ['PSC_SECRET_KEY_PREVIOUS'],
    message: 'must not hold PSC_SECRET_KEY (set PSC_SECRET_KEY to the new key)',
  });

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    secretKey: e.PSC_SECRET_KEY,
    previousSecretKeys: e.PSC_SECRET_KEY_PREVIOUS,
    workerSecretKey: e.PSC_WORKER_SECRET_KEY,
    expressionBudget: expressionBudgetOf(e),
    webhooks: {
      maxAttempts: e.PSC_WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.PSC_WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: e.PSC_WEBHOOK_RETRY_MAX_MS,
      disableAfter: e.PSC_WEBHOOK_DISABLE_AFTER,
      timeoutMs: e.PSC_WEBHOOK_TIMEOUT_MS,
      pollMs: e.PSC_WEBHOOK_POLL_MS,
      retentionDays: e.PSC_WEBHOOK_RETENTION_DAYS,
    },
    egressAllow: e.PSC_EGRESS_ALLOW.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  };
}
