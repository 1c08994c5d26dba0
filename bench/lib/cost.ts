import pg from 'pg';
import { managementPath, type ManagementApi } from '@psc/messaging';
import { waitFor, type IsolatedEnv } from '@psc/testing';

/** What a stretch of work cost, as counted by PostgreSQL and RabbitMQ themselves. */
export interface CostCounts {
  /** `xact_commit + xact_rollback` of the run's database (pg_stat_database). */
  transactions: number;
  /** `message_stats.publish` of the run's vhost. */
  publishes: number;
  /** `message_stats.deliver_get` of the run's vhost: deliveries with and without ack, and gets. */
  deliveries: number;
}

/** The servers' counters at one moment, minus every statement the meter itself ran before it. */
export interface CostSnapshot extends CostCounts {
  /** `performance.now()` when the counters were read. */
  at: number;
}

/** Server activity per second that nobody asked for (psc's pollers and heartbeats when idle). */
export type BackgroundRates = CostCounts;

export interface CostMeter {
  /**
   * Runs one statement on the meter's own connection. Every statement the bench runs while it
   * counts goes through here, so the meter knows exactly how many of the database's transactions
   * were its own and leaves them out.
   */
  query: <R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ) => Promise<pg.QueryResult<R>>;
  /** Waits until both servers have reported everything done so far, then reads the counters. */
  snapshot(): Promise<CostSnapshot>;
  close(): Promise<void>;
}

/*
 * PostgreSQL backends publish their counters lazily: at the end of a transaction at most once a
 * second, and a backend that goes idle with counts pending publishes them 10 s later
 * (PGSTAT_MIN_INTERVAL and PGSTAT_IDLE_INTERVAL in PostgreSQL 15's pgstat.c). So everything a
 * backend did before a moment `cut` has been published once it either has been idle for more
 * than 10 s, or has ended a transaction at least 1 s after `cut` (that transaction's end, or one
 * less than a second before it and still after `cut`, published). pg_stat_activity shows both.
 */
const PG_IDLE_FLUSH_MS = 10_000;
const PG_MIN_FLUSH_MS = 1_000;
/*
 * RabbitMQ's management plugin sees a channel's counters when the channel emits its stats (every
 * collect_statistics_interval, 5 s by default) and the collector then aggregates them (same
 * interval): a publish shows in the vhost's message_stats within two intervals. No API says when
 * a channel last emitted, so this part of the settle is a bound, not an observation.
 */
const BROKER_STATS_LAG_MS = 10_000;
const SETTLE_MARGIN_MS = 500;
const SETTLE_TIMEOUT_MS = 60_000;

interface BackendRow {
  application_name: string;
  state: string | null;
  settled: boolean;
}

/**
 * Counts PostgreSQL transactions and RabbitMQ messages of the run's isolated database and vhost
 * (both serve nothing but the run), on a connection of its own whose statements it subtracts.
 */
export async function openCostMeter(
  env: IsolatedEnv,
  management: ManagementApi,
): Promise<CostMeter> {
  const client = new pg.Client({ connectionString: env.databaseUrl, application_name: 'bench' });
  await client.connect();
  let own = 0;
  const run = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    try {
      return await client.query<R>(text, values);
    } finally {
      // Each statement outside an explicit transaction is one transaction, failed or not.
      own += 1;
    }
  };
  const vhostPath = managementPath('vhosts', env.vhost);

  async function settle(): Promise<void> {
    const cutAt = performance.now();
    const { rows } = await run<{ cut: Date }>('select clock_timestamp() as cut');
    const cut = rows[0]!.cut;
    let unsettled: BackendRow[] = [];
    await waitFor(
      async () => {
        const backends = await run<BackendRow>(
          `select application_name, state,
                  backend_start > $1
                  or (state = 'idle' and state_change < clock_timestamp() - make_interval(secs => $2))
                  or (state = 'idle' and state_change > $1 + make_interval(secs => $3)) as settled
             from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()
              and backend_type = 'client backend'`,
          [cut, (PG_IDLE_FLUSH_MS + SETTLE_MARGIN_MS) / 1000, PG_MIN_FLUSH_MS / 1000],
        );
        unsettled = backends.rows.filter((b) => !b.settled);
        const brokerSettled = performance.now() - cutAt >= BROKER_STATS_LAG_MS + SETTLE_MARGIN_MS;
        return unsettled.length === 0 && brokerSettled ? true : null;
      },
      {
        timeoutMs: SETTLE_TIMEOUT_MS,
        intervalMs: 250,
        message: 'PostgreSQL and RabbitMQ published their counters',
      },
    ).catch((err: unknown) => {
      const busy = unsettled.map((b) => `${b.application_name || '?'} (${b.state})`).join(', ');
      throw new Error(`${String(err)}; backends still busy: ${busy}`, { cause: err });
    });
  }

  return {
    query: run,
    async snapshot() {
      await settle();
      // Publishes this connection's own counts at the end of this statement, so the read below
      // sees every statement run here before it, and `own` says how many those were.
      await run('select pg_stat_force_next_flush()');
      const ownBefore = own;
      const { rows } = await run<{ n: string }>(
        `select xact_commit + xact_rollback as n from pg_stat_database
          where datname = current_database()`,
      );
      const vhost = await management.get<{ message_stats?: Record<string, number> }>(vhostPath);
      return {
        transactions: Number(rows[0]!.n) - ownBefore,
        publishes: vhost.message_stats?.publish ?? 0,
        deliveries: vhost.message_stats?.deliver_get ?? 0,
        at: performance.now(),
      };
    },
    close: () => client.end(),
  };
}

/** The counters' growth per second between two snapshots taken while nothing was asked of psc. */
export function backgroundRates(from: CostSnapshot, to: CostSnapshot): BackgroundRates {
  const seconds = (to.at - from.at) / 1000;
  return {
    transactions: (to.transactions - from.transactions) / seconds,
    publishes: (to.publishes - from.publishes) / seconds,
    deliveries: (to.deliveries - from.deliveries) / seconds,
  };
}

/**
 * Cost per job of `jobs` jobs done between two snapshots. `idleMs` is the part of that window in
 * which the measured side was not working (the settle, and for the baseline all of it, since psc
 * keeps polling meanwhile): the background activity expected in it is taken off.
 */
export function costPerJob(
  from: CostSnapshot,
  to: CostSnapshot,
  jobs: number,
  background: BackgroundRates,
  idleMs: number,
): CostCounts {
  const per = (key: keyof CostCounts) =>
    (to[key] - from[key] - (background[key] * idleMs) / 1000) / jobs;
  return {
    transactions: per('transactions'),
    publishes: per('publishes'),
    deliveries: per('deliveries'),
  };
}
