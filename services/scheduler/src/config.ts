import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, commonEnv, intEnv, parseEnv, portEnv } from '@psc/core';

const ms = (min: number, max: number) => intEnv(min, max).optional();

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8082),
  PSC_RPC_TIMEOUT_MS: intEnv(100, 120_000).default(5_000),
  /** How often each replica ticks (leader: emit due runs; others: try to take the lease). */
  PSC_SCHEDULER_TICK_MS: intEnv(20, 60_000).default(1_000),
  /** How long a lease lasts without renewal; default 3 ticks, and always more than one. */
  PSC_SCHEDULER_LEASE_MS: ms(50, 600_000),
  /**
   * How long before a due time the leader at least plans it, so its tick only writes the runs
   * (it starts earlier when planning takes longer: twice the last plan's time).
   */
  PSC_SCHEDULER_PLAN_AHEAD_MS: intEnv(0, 60_000).default(200),
  /** Due runs older than this count as missed (misfire policy); default lease + 3 ticks. */
  PSC_SCHEDULER_MISFIRE_GRACE_MS: ms(0, 86_400_000),
  /** Finished jobs older than this many days are purged. */
  PSC_JOB_RETENTION_DAYS: intEnv(1, 3_650).default(30),
  /** Rows per purge statement: bounded so a large purge never holds long locks. */
  PSC_JOB_PURGE_BATCH: intEnv(1, 100_000).default(1_000),
  PSC_SCHEDULER_REPLICA_ID: z.string().min(1).max(200).optional(),
  /** Most worker reports applied in one ledger transaction (also the consumer's prefetch). */
  PSC_LEDGER_BATCH: intEnv(1, 5_000).default(200),
  /** How long a lone report waits for others to share its ledger transaction. */
  PSC_LEDGER_LINGER_MS: intEnv(0, 1_000).default(100),
  /** Open jobs with no report for this long are checked against their worker's records. */
  PSC_RECONCILE_AFTER_MS: intEnv(1_000, 86_400_000).default(300_000),
  /** How often the leader looks for such jobs. */
  PSC_RECONCILE_EVERY_MS: intEnv(100, 3_600_000).default(30_000),
  /** How often the leader checks its projection of platforms against the registry. */
  PSC_PLATFORM_CHECK_EVERY_MS: intEnv(1_000, 86_400_000).default(600_000),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  const tickMs = e.PSC_SCHEDULER_TICK_MS;
  const leaseMs = e.PSC_SCHEDULER_LEASE_MS ?? 3 * tickMs;
  // The leader renews its lease once a tick: one that runs out first would change hands, and
  // make every replica plan every schedule again, at each tick.
  if (leaseMs <= tickMs) {
    throw new ConfigError(
      `invalid configuration: PSC_SCHEDULER_LEASE_MS (${leaseMs}) must be more than PSC_SCHEDULER_TICK_MS (${tickMs}): the leader renews its lease once a tick`,
    );
  }
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    rpcTimeoutMs: e.PSC_RPC_TIMEOUT_MS,
    ledgerBatch: e.PSC_LEDGER_BATCH,
    ledgerLingerMs: e.PSC_LEDGER_LINGER_MS,
    reconcile: { afterMs: e.PSC_RECONCILE_AFTER_MS, everyMs: e.PSC_RECONCILE_EVERY_MS },
    platformCheckEveryMs: e.PSC_PLATFORM_CHECK_EVERY_MS,
    retention: { keepMs: e.PSC_JOB_RETENTION_DAYS * 86_400_000, batch: e.PSC_JOB_PURGE_BATCH },
    scheduler: {
      tickMs,
      leaseMs,
      missGraceMs: e.PSC_SCHEDULER_MISFIRE_GRACE_MS ?? leaseMs + 3 * tickMs,
      planAheadMs: e.PSC_SCHEDULER_PLAN_AHEAD_MS,
      replicaId:
        e.PSC_SCHEDULER_REPLICA_ID ??
        `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    },
  };
}
