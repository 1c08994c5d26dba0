import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PgBoss } from 'pg-boss';
import { waitFor } from '@psc/testing';
import { onCleanup } from './cleanup.ts';
import { ENQUEUE_CONCURRENCY, type Query } from './sync-jobs.ts';

export type JobKind = 'sync' | 'noop';

/** One side of the peers scenario, seen from the bench: how its user enqueues, and its own record of the end. */
export interface PeerSide {
  name: string;
  /** Enqueues job `k` of a burst; resolves to the job's id once the side has accepted it. */
  enqueue: (kind: JobKind, k: number) => Promise<string>;
  /** Waits until every job in `ids` is done; the last one's end (epoch ms) as the side records it. */
  lastFinishedAt: (kind: JobKind, ids: string[]) => Promise<number>;
  /** Releases what the bench holds for this side; safe to call twice. */
  stop: () => Promise<void>;
}

/** Queue names shared by the bench and the peers' worker processes. */
export interface PeerQueues {
  SYNC_QUEUE: string;
  NOOP_QUEUE: string;
}

const DONE_TIMEOUT_MS = (jobs: number) => 120_000 + jobs * 100;

/** Stops once, whoever asks first: the scenario's `finally` or the run's clean-up on Ctrl-C. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

/**
 * The bench's pg-boss producer: its own schema in the run's database, created by `start()`, with
 * both queues created with `notify` so that the worker's LISTEN/NOTIFY wakes it. It only sends:
 * supervision and scheduling are the worker's, as in an app whose web process only enqueues.
 */
export async function startPgBossSide(
  databaseUrl: string,
  queues: PeerQueues,
  query: Query,
  resourceOf: (k: number) => string,
): Promise<PeerSide & { schema: string }> {
  const schema = 'pgboss';
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema,
    application_name: 'bench pg-boss producer',
    supervise: false,
    schedule: false,
    max: ENQUEUE_CONCURRENCY + 2,
  });
  boss.on('error', (err) => console.error(`bench pg-boss: ${String(err)}`));
  await boss.start();
  const stop = once(() => boss.stop({ graceful: false, close: true }));
  onCleanup('pg-boss producer', stop);
  for (const name of [queues.SYNC_QUEUE, queues.NOOP_QUEUE]) {
    await boss.createQueue(name, { notify: true });
  }
  const queueOf = (kind: JobKind) => (kind === 'sync' ? queues.SYNC_QUEUE : queues.NOOP_QUEUE);

  return {
    name: 'pg-boss',
    schema,
    async enqueue(kind, k) {
      const id = await boss.send(queueOf(kind), kind === 'sync' ? { resource: resourceOf(k) } : {});
      if (!id) throw new Error(`pg-boss send to ${queueOf(kind)} returned no id`);
      return id;
    },
    async lastFinishedAt(kind, ids) {
      const last = await waitFor(
        async () => {
          const { rows } = await query<{ done: number; failed: number; last: Date | null }>(
            `select count(*) filter (where state = 'completed')::int as done,
                    count(*) filter (where state = 'failed')::int as failed,
                    max(completed_on) as last
               from ${schema}.job where name = $1 and id = any($2::uuid[])`,
            [queueOf(kind), ids],
          );
          const row = rows[0]!;
          if (row.failed > 0) throw new Error(`${row.failed} pg-boss ${kind} jobs failed`);
          return row.done === ids.length ? row.last : null;
        },
        {
          timeoutMs: DONE_TIMEOUT_MS(ids.length),
          intervalMs: 100,
          message: `pg-boss ${kind} jobs completed`,
        },
      );
      return last.getTime();
    },
    stop,
  };
}

/**
 * The bench's BullMQ queues on the Redis at `redisUrl` (db 0, shared: everything lives under
 * `prefix`, and `stop()` deletes exactly those keys — never FLUSHDB). Undefined when Redis does
 * not answer.
 */
export async function startBullmqSide(
  redisUrl: string,
  prefix: string,
  queues: PeerQueues,
  resourceOf: (k: number) => string,
): Promise<PeerSide | undefined> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // A refused connection also arrives as an 'error' event; connect() below reports it.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch {
    redis.disconnect();
    return undefined;
  }

  const connection = { url: redisUrl };
  const sync = new Queue<{ resource: string }>(queues.SYNC_QUEUE, { connection, prefix });
  const noop = new Queue(queues.NOOP_QUEUE, { connection, prefix });
  const stop = once(async () => {
    await Promise.all([sync.close(), noop.close()]);
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
  onCleanup('BullMQ queues and keys', stop);
  const queueOf = (kind: JobKind) => (kind === 'sync' ? sync : noop);
  // Every job ever added to a queue is waited for before the next burst, so the queue's
  // completed count says when this burst's jobs are all done.
  const added: Record<JobKind, number> = { sync: 0, noop: 0 };

  return {
    name: 'BullMQ',
    async enqueue(kind, k) {
      added[kind] += 1;
      const job =
        kind === 'sync'
          ? await sync.add('sync', { resource: resourceOf(k) })
          : await noop.add('noop', {});
      if (!job.id) throw new Error(`BullMQ add to ${queueOf(kind).name} returned no id`);
      return job.id;
    },
    async lastFinishedAt(kind, ids) {
      const queue = queueOf(kind);
      await waitFor(
        async () => {
          const counts = await queue.getJobCounts('completed', 'failed');
          if ((counts.failed ?? 0) > 0)
            throw new Error(`${counts.failed} BullMQ ${kind} jobs failed`);
          return counts.completed === added[kind] ? true : null;
        },
        {
          timeoutMs: DONE_TIMEOUT_MS(ids.length),
          intervalMs: 100,
          message: `BullMQ ${kind} jobs completed`,
        },
      );
      // The completed set is ordered by finishedOn, so the newest is this burst's last.
      const [newest] = await queue.getJobs(['completed'], 0, 0, false);
      if (!newest?.finishedOn) throw new Error(`BullMQ ${kind}: no finishedOn on the last job`);
      return newest.finishedOn;
    },
    stop,
  };
}

/** Deletes every key under `prefix` with SCAN + UNLINK; Redis is shared, so nothing else. */
async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
