import { randomUUID } from 'node:crypto';
import { waitFor } from '@psc/testing';
import type { BenchContext } from '../lib/context.ts';
import { cpuBreakdown, cpuByGroup, cpuPerJob, type CpuGroup } from '../lib/cpu.ts';
import { amqp } from '../lib/deps.ts';
import { expectStatus } from '../lib/psc.ts';
import { compare, note, skip } from '../lib/report.ts';
import { sampleRss } from '../lib/rss.ts';

const SCENARIO = 'fan-out';
const QUEUE = 'baseline.children';
/** Children run at once per collector process: psc's default PSC_COLLECTOR_CHILD_CONCURRENCY, and the baseline's. */
const PREFETCH = 4;

/**
 * Scenario 5. A two-stage collection: an index of C entries, each a child fetched by one of two
 * collector processes. psc: POST /api/v1/collections → collector stage 1 → C child jobs on the
 * collector queue → documents stored → the barrier ends the parent; children/s from the
 * collector's own start and finish times. Baseline: the runner fetches the index and publishes C
 * messages; two bare consumers fetch each child and insert the document.
 */
export async function fanOut(ctx: BenchContext): Promise<void> {
  const { args, psc, fake, db } = ctx;
  const entries = Array.from({ length: args.children }, (_, i) => ({ id: `c${i}` }));
  fake.setCollection('/fan/index', entries);
  fake.route('GET', '/fan/child', (request) => ({
    body: { data: [{ id: request.query.id, name: `child ${request.query.id}`, value: 1 }] },
  }));
  const platform = expectStatus(
    'register fan-out platform',
    await psc.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: 'bench-fanout',
        baseUrl: fake.url,
        resources: [
          {
            name: 'index',
            tasks: ['collect'],
            request: { path: '/fan/index' },
            itemsPath: 'data',
            key: 'id',
            mapping: { id: 'id' },
            fanOut: {
              entriesPath: 'data',
              request: { path: '/fan/child', query: { id: '{{id}}' } },
              itemsPath: 'data',
            },
          },
        ],
      },
    }),
    201,
  );
  const start = () =>
    psc.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId: platform.id, resource: 'index' },
    });
  const probe = await start();
  if (probe.status === 404 || probe.status === 405) {
    skip(
      ctx.report,
      SCENARIO,
      `needs collector fan-out (issue 6: POST /api/v1/collections answered ${probe.status})`,
    );
    return;
  }
  const pscCollect = async (jobId: string): Promise<number> => {
    const row = await waitFor(
      async () => {
        const { rows } = await db.query<{
          status: string;
          started_at: Date;
          finished_at: Date | null;
          children_succeeded: number;
          children_failed: number;
        }>(
          `select status, started_at, finished_at, children_succeeded, children_failed
             from collector.collections where job_id = $1`,
          [jobId],
        );
        const found = rows[0];
        return found && found.status !== 'running' ? found : null;
      },
      { timeoutMs: 120_000 + args.children * 50, intervalMs: 200, message: 'collection ended' },
    );
    if (row.status !== 'succeeded' || row.children_succeeded !== args.children) {
      throw new Error(
        `psc collection ended ${row.status}: ${row.children_succeeded} children succeeded`,
      );
    }
    return (args.children * 1000) / (row.finished_at!.getTime() - row.started_at.getTime());
  };
  // The probe above is the warm-up run.
  await pscCollect(expectStatus('start collection', probe, 202).jobId);

  await psc.start('collector', 'collector-2');
  const workers = [
    await ctx.spawnBaseline('fanout-worker', { QUEUE, PREFETCH: String(PREFETCH) }),
    await ctx.spawnBaseline('fanout-worker', { QUEUE, PREFETCH: String(PREFETCH) }),
  ];
  const connection = await amqp.connect(ctx.env.amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-max-priority': 9 } });
  const baselineCollect = async (): Promise<number> => {
    const run = randomUUID();
    const started = Date.now();
    const index = (await (await fetch(`${fake.url}/fan/index`)).json()) as {
      data: { id: string }[];
    };
    for (const entry of index.data) {
      const url = `${fake.url}/fan/child?id=${encodeURIComponent(entry.id)}`;
      channel.sendToQueue(QUEUE, Buffer.from(JSON.stringify({ run, child: entry.id, url })), {
        priority: 5,
        persistent: true,
      });
    }
    await channel.waitForConfirms();
    const last = await waitFor(
      async () => {
        const { rows } = await db.query<{ n: number; last: Date }>(
          'select count(*)::int as n, max(fetched_at) as last from baseline.documents where run = $1',
          [run],
        );
        return rows[0]!.n === args.children ? rows[0]!.last : null;
      },
      { timeoutMs: 120_000 + args.children * 50, intervalMs: 100, message: 'baseline children' },
    );
    return (args.children * 1000) / (last.getTime() - started);
  };

  // Each process's RSS through every burst, for scenario 6 (the collectors hold the children's
  // pages and documents as the sync-worker holds its pages).
  const samplers = {
    psc: ['collector', 'collector-2'].map((name) =>
      sampleRss(psc.instances.get(name)?.process.pid),
    ),
    base: workers.map((w) => sampleRss(w.pid)),
  };
  const peakOf = async (side: ReturnType<typeof sampleRss>[]) =>
    Math.max(...(await Promise.all(side.map(async (s) => (await s.stop()).peak))));
  // CPU per child of every process either side runs on: both sides keep the two cores busy
  // through a burst, so children/s follows what a child costs, and this says where.
  const cpuGroups: Record<string, CpuGroup> = {
    bench: { pids: [process.pid], alone: true },
    ...Object.fromEntries(
      [...psc.instances].map(([name, running]) => [name, { pids: [running.process.pid] }]),
    ),
    'baseline consumers': { pids: workers.map((w) => w.pid) },
    postgresql: { command: /\/bin\/postgres /u },
    rabbitmq: { command: /\/beam\.smp /u },
  };
  const cpu = { psc: [] as Record<string, number>[], base: [] as Record<string, number>[] };
  const measured = async (side: 'psc' | 'base', run: () => Promise<number>): Promise<number> => {
    const before = cpuByGroup(cpuGroups);
    const childrenPerSecond = await run();
    cpu[side].push(cpuPerJob(before, cpuByGroup(cpuGroups), args.children));
    return childrenPerSecond;
  };
  try {
    const runs = { psc: [] as number[], base: [] as number[] };
    for (let rep = 0; rep < args.reps; rep++) {
      const pscRun = async () =>
        runs.psc.push(
          await measured('psc', async () =>
            pscCollect(expectStatus('start collection', await start(), 202).jobId),
          ),
        );
      const baseRun = async () => runs.base.push(await measured('base', baselineCollect));
      if (rep % 2 === 0) {
        await pscRun();
        await baseRun();
      } else {
        await baseRun();
        await pscRun();
      }
    }
    compare(
      ctx.report,
      SCENARIO,
      `${args.children} children on 2 collectors`,
      'children/s',
      runs.psc,
      runs.base,
    );
    note(
      ctx.report,
      `CPU per child = user + system time of each process during each burst / children; ` +
        `medians: psc — ${cpuBreakdown(cpu.psc)}; baseline — ${cpuBreakdown(cpu.base)}`,
    );
    compare(
      ctx.report,
      SCENARIO,
      'CPU per child',
      'ms',
      cpu.psc.map((rep) => rep.total ?? 0),
      cpu.base.map((rep) => rep.total ?? 0),
    );
    ctx.memory.fanout = {
      pscPeak: await peakOf(samplers.psc),
      baselinePeak: await peakOf(samplers.base),
    };
  } finally {
    await Promise.all([...samplers.psc, ...samplers.base].map((s) => s.stop()));
    await channel.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop()));
    await psc.stopInstance('collector-2');
  }
}
