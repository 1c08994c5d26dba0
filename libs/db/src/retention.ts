import type { Knex } from 'knex';

/** A table whose rows age out: what one service keeps, and for how long. */
export interface RetentionRule {
  /** What the rows are, for logs and results: `job runs`, `audit entries`… */
  name: string;
  /** The table, schema-qualified (`sync.job_runs`). */
  table: string;
  /** The timestamp column rows age by: a row goes once it is older than `keepMs`. */
  column: string;
  keepMs: number;
  /**
   * Which old rows may go besides being old, as fixed SQL over the table's columns (never a
   * value from input): only finished jobs, only delivered webhooks.
   */
  only?: string;
}

/** A table and the timestamp column its rows age by. */
export type Age = readonly [table: string, column: string];

const ageIndex = ([table, column]: Age) => `${table}_${column}_brin`;

/**
 * Migration step (in a migration with `config = { transaction: false }`): what the retention
 * purge finds old rows by, for tables that have no index on their age. Without one, each purge
 * reads the whole table to learn that nothing is old yet. BRIN, not B-tree: rows arrive in time
 * order, so a summary per block range finds the old ones, and an insert on a hot path pays next
 * to nothing to keep it up to date. Built concurrently, as running replicas keep writing while a
 * new one migrates.
 */
export async function createAgeIndexes(
  knex: Knex,
  schema: string,
  ages: readonly Age[],
): Promise<void> {
  // A concurrent build failed mid-way leaves an invalid index of its name behind: start afresh.
  await dropAgeIndexes(knex, schema, ages);
  for (const age of ages) {
    await knex.raw('create index concurrently ?? on ??.?? using brin (??)', [
      ageIndex(age),
      schema,
      age[0],
      age[1],
    ]);
  }
}

/** Undoes {@link createAgeIndexes}. */
export async function dropAgeIndexes(
  knex: Knex,
  schema: string,
  ages: readonly Age[],
): Promise<void> {
  for (const age of ages) {
    await knex.raw('drop index concurrently if exists ??.??', [schema, ageIndex(age)]);
  }
}

/** Enough of a pino logger. */
interface RetentionLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface RetentionOptions {
  knex: Knex;
  logger: RetentionLogger;
  rules: readonly RetentionRule[];
  /** Rows deleted per statement (default 1,000): each statement's locks and WAL stay small. */
  batch?: number;
  /** How often the rules run (default once a minute, the first time at a random point of it). */
  intervalMs?: number;
  now?: () => Date;
}

export interface Retention {
  start: () => void;
  /** Stops after the statement under way; a later run takes the rest. */
  stop: () => Promise<void>;
  /** Runs every rule until it has nothing old left; how many rows each deleted, by name. */
  runOnce: () => Promise<Record<string, number>>;
}

/**
 * Deletes rows older than each rule keeps them, in batches, on every replica of a service: a
 * batch takes the rows it deletes with `skip locked`, so replicas running at once share the work
 * instead of waiting on each other. Tables that grow with every job (run records, ledger rows,
 * audit entries, log entries) stay bounded without an operator's cron. A rule that fails (the
 * database is away) is logged and tried again next time; the others still run.
 */
export function createRetention(options: RetentionOptions): Retention {
  const batch = options.batch ?? 1_000;
  const intervalMs = options.intervalMs ?? 60_000;
  const now = options.now ?? (() => new Date());
  const log = options.logger;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Record<string, number>> | undefined;
  let stopping = false;

  // `ctid`: a batch needs no key of the table's, and the rows go by their physical address.
  const statementOf = (rule: RetentionRule) =>
    `delete from ${rule.table} where ctid = any(array(
       select ctid from ${rule.table}
        where ${rule.column} < ?${rule.only ? ` and (${rule.only})` : ''}
        limit ? for update skip locked))`;

  async function apply(rule: RetentionRule): Promise<number> {
    const before = new Date(now().getTime() - rule.keepMs);
    const statement = statementOf(rule);
    let total = 0;
    while (!stopping) {
      const { rowCount } = await options.knex.raw<{ rowCount: number | null }>(statement, [
        before,
        batch,
      ]);
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < batch) break;
    }
    if (total > 0) log.info({ rule: rule.name, purged: total, before }, 'old rows purged');
    return total;
  }

  async function runAll(): Promise<Record<string, number>> {
    const purged: Record<string, number> = {};
    for (const rule of options.rules) {
      try {
        purged[rule.name] = await apply(rule);
      } catch (err) {
        purged[rule.name] = 0;
        log.warn(
          { rule: rule.name, err: err instanceof Error ? err.message : String(err) },
          'retention purge failed; tried again next time',
        );
      }
    }
    return purged;
  }

  function runOnce(): Promise<Record<string, number>> {
    // One run at a time per process: a timer firing during a long first run waits for it.
    running ??= runAll().finally(() => {
      running = undefined;
    });
    return running;
  }

  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      void runOnce().finally(() => {
        if (!stopping) schedule(intervalMs);
      });
    }, delayMs);
    timer.unref();
  };

  return {
    start() {
      stopping = false;
      // Replicas started together do not all purge at the same moment.
      schedule(Math.floor(Math.random() * intervalMs));
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
