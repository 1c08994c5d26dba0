import { randomBytes, randomUUID } from 'node:crypto';
import type { ServiceProcess } from '@psc/testing';
import type { BenchContext } from '../lib/context.ts';
import {
  startBullmqSide,
  startPgBossSide,
  type JobKind,
  type PeerSide,
} from '../lib/peer-sides.ts';
import { cpuBreakdown, cpuByGroup, cpuPerJob, type CpuGroup } from '../lib/cpu.ts';
import { compare, note, skip, type Report } from '../lib/report.ts';
import {
  pscLedger,
  registerSyncPlatform,
  runBurst,
  servePages,
  waitLedgerDone,
  WORKER_CONCURRENCY,
  type Query,
} from '../lib/sync-jobs.ts';

const SCENARIO = 'peers';
const PAGES = 'peers';
/** psc has no no-op task; its cheapest job is a sync of this resource, whose page is empty. */
const EMPTY = 'empty';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * Peers scenario. The job of scenario 1 (one page of small records fetched over HTTP, mapped,
 * hashed, upserted, recorded as done) and a no-op job, on psc and on hand-written workers on
 * pg-boss and BullMQ: each worker a separate process with 4 jobs in flight, jobs enqueued the way
 * each library's user would (psc's run-now API, pg-boss `send`, BullMQ `Queue.add`) with 8
 * enqueues in flight, the sides interleaved and rotated per repetition. Throughput from the first
 * enqueue to the last job's end as each side records it; for the sync job also the CPU each
 * side's processes used per job, to show where a side spends what the other does not.
 */
export async function peers(ctx: BenchContext): Promise<void> {
  const { args, psc, fake, db } = ctx;
  const resources = Array.from({ length: args.resources }, (_, i) => `r${i}`);
  servePages(fake, PAGES, resources, args.pageRecords, EMPTY);
  const pagesUrl = `${fake.url}/${PAGES}`;
  // The no-op resource has a platform of its own: `--resources` may already fill the most a
  // platform takes.
  const ledger = pscLedger(
    psc,
    await registerSyncPlatform(psc, 'bench-peers', fake.url, PAGES, resources),
  );
  const noopLedger = pscLedger(
    psc,
    await registerSyncPlatform(psc, 'bench-peers-noop', fake.url, PAGES, [EMPTY]),
  );
  const query: Query = (text, values) => db.query(text, values);
  const resourceOf = (k: number) => resources[k % resources.length]!;

  const pscSide: PeerSide = {
    name: 'psc',
    enqueue: (kind, k) =>
      kind === 'sync' ? ledger.enqueue(resourceOf(k)) : noopLedger.enqueue(EMPTY),
    lastFinishedAt: async (_kind, ids) =>
      (await waitLedgerDone(query, ledger.table, ids)).getTime(),
    stop: async () => {},
  };

  const sides: PeerSide[] = [pscSide];
  const workers: ServiceProcess[] = [];
  // Every process a side may run on: each side's burst charges what all of them used to it, as
  // the machine's 2 cores are what the sides compete for.
  const cpuGroups: Record<string, CpuGroup> = {
    bench: { pids: [process.pid], alone: true },
    ...Object.fromEntries(
      [...psc.instances].map(([name, running]) => [name, { pids: [running.process.pid] }]),
    ),
    postgresql: { command: /\/bin\/postgres /u },
    rabbitmq: { command: /\/beam\.smp /u },
    redis: { command: /redis-server/u },
  };
  try {
    const shared = {
      CONCURRENCY: String(WORKER_CONCURRENCY),
      PAGES_URL: pagesUrl,
      SYNC_QUEUE: 'bench-sync',
      NOOP_QUEUE: 'bench-noop',
    };
    const pgBoss = await startPgBossSide(ctx.env.databaseUrl, shared, query, resourceOf);
    sides.push(pgBoss);
    const pgBossWorker = await ctx.spawnPeer('pgboss-worker', {
      ...shared,
      PGBOSS_SCHEMA: pgBoss.schema,
      PLATFORM_ID: randomUUID(),
    });
    workers.push(pgBossWorker);
    cpuGroups['pg-boss worker'] = { pids: [pgBossWorker.pid] };

    const prefix = `psc-bench-${randomBytes(6).toString('hex')}`;
    const bullmq = await startBullmqSide(REDIS_URL, prefix, shared, resourceOf);
    if (bullmq) {
      sides.push(bullmq);
      const bullmqWorker = await ctx.spawnPeer('bullmq-worker', {
        ...shared,
        REDIS_URL,
        BULLMQ_PREFIX: prefix,
        PLATFORM_ID: randomUUID(),
      });
      workers.push(bullmqWorker);
      cpuGroups['BullMQ worker'] = { pids: [bullmqWorker.pid] };
    } else {
      skip(ctx.report, `${SCENARIO} BullMQ`, 'no Redis');
    }

    const burst = async (side: PeerSide, kind: JobKind, count: number): Promise<number> => {
      const figures = await runBurst(
        count,
        (k) => side.enqueue(kind, k),
        (ids) => side.lastFinishedAt(kind, ids),
      );
      return figures.jobsPerSecond;
    };

    // Warm-up, not measured: creates every side's rows and warms JITs, pools and connections.
    for (const side of sides) {
      await burst(side, 'sync', resources.length);
      await burst(side, 'noop', resources.length);
    }

    const figures = new Map<string, Record<JobKind, number[]>>(
      sides.map((side) => [side.name, { sync: [], noop: [] }]),
    );
    const syncCpu = new Map<string, Record<string, number>[]>(sides.map((side) => [side.name, []]));
    for (let rep = 0; rep < args.reps; rep++) {
      // psc, pg-boss, BullMQ, then rotated, so drift in the machine hits every side alike.
      const order = sides.map((_, i) => sides[(i + rep) % sides.length]!);
      for (const kind of ['sync', 'noop'] as const) {
        for (const side of order) {
          const before = cpuByGroup(cpuGroups);
          figures.get(side.name)![kind].push(await burst(side, kind, args.peerJobs));
          if (kind === 'sync') {
            syncCpu.get(side.name)!.push(cpuPerJob(before, cpuByGroup(cpuGroups), args.peerJobs));
          }
        }
      }
    }

    const ours = figures.get('psc')!;
    for (const side of sides.slice(1)) {
      const theirs = figures.get(side.name)!;
      compare(
        ctx.report,
        SCENARIO,
        'sync job',
        'jobs/s',
        ours.sync,
        theirs.sync,
        {
          text: '≥ 1.0',
          minRatio: 1.0,
        },
        side.name,
      );
    }
    reportSyncCpu(ctx.report, syncCpu);
    note(
      ctx.report,
      `psc has no no-op task: its no-op figure is a sync of a resource whose page is empty (fetch, map nothing, record the job)`,
    );
    for (const side of sides.slice(1)) {
      const theirs = figures.get(side.name)!;
      compare(
        ctx.report,
        SCENARIO,
        'no-op job',
        'jobs/s',
        ours.noop,
        theirs.noop,
        undefined,
        side.name,
      );
    }
  } finally {
    for (const worker of workers) await worker.stop();
    for (const side of sides) await side.stop();
  }
}

/** The sync job's CPU per job on each side, by process, and psc's against each peer's. */
function reportSyncCpu(report: Report, cpu: Map<string, Record<string, number>[]>): void {
  note(
    report,
    `sync job CPU per job = user + system time of every process (PostgreSQL's backends, RabbitMQ, ` +
      `Redis, the services and workers, the bench) during each side's burst / jobs; medians: ` +
      [...cpu].map(([side, reps]) => `${side} — ${cpuBreakdown(reps)}`).join('; '),
  );
  const ours = (cpu.get('psc') ?? []).map((rep) => rep.total ?? 0);
  for (const [side, reps] of cpu) {
    if (side === 'psc') continue;
    compare(
      report,
      SCENARIO,
      'sync job CPU per job',
      'ms',
      ours,
      reps.map((rep) => rep.total ?? 0),
      undefined,
      side,
    );
  }
}
