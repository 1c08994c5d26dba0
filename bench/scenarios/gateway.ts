import autocannon from 'autocannon';
import type { BenchContext } from '../lib/context.ts';
import { waitForJob } from '../lib/ledger.ts';
import { expectStatus } from '../lib/psc.ts';
import { compare } from '../lib/report.ts';
import { rssMb } from '../lib/rss.ts';

const SCENARIO = 'gateway';
const PLATFORMS = 60;

interface Run {
  rps: number;
  p50: number;
  p99: number;
}

/**
 * Scenario 3. Two reads under `connections` concurrent connections for `duration` seconds
 * (autocannon): one job by id, and the first page of 50 platforms. psc: the gateway checks the
 * API key and the input, asks the owning service over RabbitMQ RPC, which reads its table.
 * Baseline: a bare Koa route running the same query on the same tables.
 */
export async function gateway(ctx: BenchContext): Promise<void> {
  const { args, psc, fake, db } = ctx;
  fake.setCollection('/gw', [{ id: 'a', name: 'one' }]);
  const ids: string[] = [];
  for (let i = 0; i < PLATFORMS; i++) {
    const platform = expectStatus(
      'register gateway platform',
      await psc.api<{ id: string }>('/api/v1/platforms', {
        body: {
          name: `bench-gw-${String(i).padStart(3, '0')}`,
          baseUrl: fake.url,
          resources: [
            {
              name: 'items',
              request: { path: '/gw' },
              itemsPath: 'data',
              key: 'id',
              mapping: { name: 'name' },
            },
          ],
        },
      }),
      201,
    );
    ids.push(platform.id);
  }
  const run = expectStatus(
    'run sync',
    await psc.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: ids[0], resource: 'items' },
    }),
    202,
  );
  const jobId = run.jobs[0]!.id;
  await waitForJob(db, jobId, 60_000);

  const server = await ctx.spawnBaseline('gateway-server', {});
  const readyLine = await server.waitForLine(/^ready \d+/);
  const baselineUrl = `http://127.0.0.1:${readyLine.split(' ')[1]}`;
  ctx.memory.baselineHttpIdle = await rssMb(server.pid);

  const load = async (url: string, seconds = args.duration): Promise<Run> => {
    const result = await autocannon({
      url,
      connections: args.connections,
      duration: seconds,
      headers: { 'x-api-key': psc.adminKey },
    });
    const failed = result.non2xx + result.errors + result.timeouts;
    if (failed > 0) {
      throw new Error(
        `${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`,
      );
    }
    return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
  };

  try {
    const routes = [
      { label: 'GET /api/v1/jobs/{id}', path: `/api/v1/jobs/${jobId}` },
      { label: 'GET /api/v1/platforms?limit=50', path: '/api/v1/platforms?limit=50' },
    ];
    for (const route of routes) {
      const psc1: Run[] = [];
      const base1: Run[] = [];
      // Warm-up, not measured.
      await load(`${psc.gatewayUrl}${route.path}`, 1);
      await load(`${baselineUrl}${route.path}`, 1);
      for (let rep = 0; rep < args.reps; rep++) {
        const pscRun = () => load(`${psc.gatewayUrl}${route.path}`).then((r) => psc1.push(r));
        const baseRun = () => load(`${baselineUrl}${route.path}`).then((r) => base1.push(r));
        if (rep % 2 === 0) {
          await pscRun();
          await baseRun();
        } else {
          await baseRun();
          await pscRun();
        }
      }
      const pick = (runs: Run[], key: keyof Run) => runs.map((r) => r[key]);
      compare(ctx.report, SCENARIO, route.label, 'req/s', pick(psc1, 'rps'), pick(base1, 'rps'), {
        text: '≥ 0.5 × baseline',
        minRatio: 0.5,
      });
      compare(
        ctx.report,
        SCENARIO,
        `${route.label} p50`,
        'ms',
        pick(psc1, 'p50'),
        pick(base1, 'p50'),
      );
      compare(
        ctx.report,
        SCENARIO,
        `${route.label} p99`,
        'ms',
        pick(psc1, 'p99'),
        pick(base1, 'p99'),
        // Issue 13: relative to the bare p99, which on 2 shared cores is itself above 25 ms.
        { text: '≤ 2 × baseline', maxRatio: 2 },
      );
    }
  } finally {
    await server.stop();
  }
}
