import { randomUUID } from 'node:crypto';
import type { BenchContext } from '../lib/context.ts';
import { expectStatus } from '../lib/psc.ts';
import { compare, skip } from '../lib/report.ts';
import { rssMb, sampleRss } from '../lib/rss.ts';

const SCENARIO = 'memory';
const MB = 'MB';

/**
 * Scenario 6. RSS (from /proc/<pid>/status) of each psc service right after start-up, of the
 * sync-worker during and at the end of scenario 1, and of the gateway while it streams an export
 * of E records. The baseline is the matching bare process: the bare Koa server for the gateway,
 * the bare amqplib+pg worker for every other service.
 */
export async function memory(ctx: BenchContext): Promise<void> {
  const { memory: figures, psc } = ctx;
  const workerIdle = figures.baselineWorkerIdle ?? (await bareIdle(ctx, 'pipeline-worker'));
  const httpIdle = figures.baselineHttpIdle ?? (await bareIdle(ctx, 'gateway-server'));
  for (const [instance, rss] of Object.entries(figures.idle)) {
    compare(
      ctx.report,
      SCENARIO,
      `idle ${instance}`,
      MB,
      [rss],
      [instance === 'gateway' ? httpIdle : workerIdle],
      { text: '≤ 120 MB', max: 120 },
    );
  }

  if (figures.pipeline) {
    const p = figures.pipeline;
    compare(
      ctx.report,
      SCENARIO,
      'sync-worker peak during scenario 1',
      MB,
      [p.pscPeak],
      [p.baselinePeak],
      {
        text: '≤ 250 MB',
        max: 250,
      },
    );
    compare(
      ctx.report,
      SCENARIO,
      'sync-worker at end of scenario 1',
      MB,
      [p.pscEnd],
      [p.baselineEnd],
    );
  } else {
    skip(
      ctx.report,
      `${SCENARIO} under scenario 1`,
      'needs scenario 1 in the same run (--only pipeline,memory)',
    );
  }

  if (figures.fanout) {
    compare(
      ctx.report,
      SCENARIO,
      'collector peak during scenario 5 (higher of two)',
      MB,
      [figures.fanout.pscPeak],
      [figures.fanout.baselinePeak],
    );
  } else {
    skip(
      ctx.report,
      `${SCENARIO} under scenario 5`,
      'needs scenario 5 in the same run (--only fanout,memory)',
    );
  }

  await exportRss(ctx, psc.instances.get('gateway')?.process.pid);
}

async function bareIdle(
  ctx: BenchContext,
  script: 'pipeline-worker' | 'gateway-server',
): Promise<number> {
  const child = await ctx.spawnBaseline(script, {
    PLATFORM_URL: ctx.fake.url,
    QUEUE: 'baseline.idle',
    PLATFORM_ID: randomUUID(),
  });
  try {
    return await rssMb(child.pid);
  } finally {
    await child.stop();
  }
}

/** Gateway RSS while streaming an export; needs the export route (issue 6). */
async function exportRss(ctx: BenchContext, gatewayPid: number | undefined): Promise<void> {
  const { psc, db, fake, args } = ctx;
  const label = `${SCENARIO} export of ${args.exportRecords} records`;
  const platform = expectStatus(
    'register export platform',
    await psc.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: 'bench-export',
        baseUrl: fake.url,
        resources: [
          {
            name: 'records',
            request: { path: '/export' },
            itemsPath: 'data',
            key: 'id',
            mapping: { name: 'name', value: 'value' },
          },
        ],
      },
    }),
    201,
  );
  const path = `/api/v1/data/${platform.id}/records/export?format=jsonl`;
  const probe = await fetch(`${psc.gatewayUrl}${path}`, { headers: { 'x-api-key': psc.adminKey } });
  await probe.body?.cancel();
  if (!probe.ok) {
    skip(
      ctx.report,
      label,
      `needs GET /api/v1/data/{platformId}/{resource}/export (issue 6); the gateway answered ${probe.status}`,
    );
    return;
  }

  // The records go straight into the sync-worker's table: this measures the export, not a sync.
  await db.query(
    `insert into sync.records (platform_id, resource, key, data, hash)
     select $1, 'records', 'k' || lpad(n::text, 8, '0'),
            jsonb_build_object('name', 'record ' || n, 'value', n), md5(n::text)
       from generate_series(1, $2) as n`,
    [platform.id, args.exportRecords],
  );

  const server = await ctx.spawnBaseline('gateway-server', {});
  const port = (await server.waitForLine(/^ready \d+/)).split(' ')[1];
  try {
    const pscBefore = await rssMb(gatewayPid);
    const pscRun = await streamCounting(`${psc.gatewayUrl}${path}`, gatewayPid, psc.adminKey);
    const baseBefore = await rssMb(server.pid);
    const baseRun = await streamCounting(
      `http://127.0.0.1:${port}/api/v1/data/${platform.id}/records/export`,
      server.pid,
      psc.adminKey,
    );
    for (const [side, run] of [
      ['psc', pscRun],
      ['baseline', baseRun],
    ] as const) {
      if (run.lines !== args.exportRecords) {
        throw new Error(`${side} export gave ${run.lines} lines, expected ${args.exportRecords}`);
      }
    }
    compare(
      ctx.report,
      SCENARIO,
      `gateway peak while exporting ${args.exportRecords} records`,
      MB,
      [pscRun.peak],
      [baseRun.peak],
      {
        text: '≤ 200 MB',
        max: 200,
      },
    );
    // The gateway has usually served scenario 3 before: what it held then is not the export's.
    compare(ctx.report, SCENARIO, 'gateway before the export', MB, [pscBefore], [baseBefore]);
    compare(ctx.report, SCENARIO, 'export rate', 'records/s', [pscRun.rate], [baseRun.rate]);
  } finally {
    await server.stop();
  }
}

async function streamCounting(url: string, pid: number | undefined, apiKey: string) {
  const sampler = sampleRss(pid, 100);
  const started = performance.now();
  const response = await fetch(url, { headers: { 'x-api-key': apiKey } });
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  let lines = 0;
  for await (const chunk of response.body) {
    const bytes = chunk as Uint8Array;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) lines += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const { peak } = await sampler.stop();
  return { lines, peak, rate: lines / seconds };
}
