import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  waitUntilStarted,
  spawnService,
  startFakePlatform,
  waitFor,
  type FakePlatform,
  type Item,
  type ServiceProcess,
} from '@psc/testing';
import { launchOf } from '../support/launch.ts';
import { startSystem, type System } from '../support/system.ts';
import { jobFinished } from '../support/platforms.ts';

const TIERS = '200,500,1000,2500';

const items = (n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ code: `c${String(i).padStart(4, '0')}`, qty: i }));

describe('sync-worker replicas: crashes and shared rate limits', { timeout: 120_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  const workers: ServiceProcess[] = [];
  const killed = new Set<ServiceProcess>();

  before(async () => {
    fake = await startFakePlatform();
    system = await startSystem({
      name: 'sync-replicas',
      services: ['platform-registry', 'scheduler', 'gateway'],
      env: { PSC_RETRY_TIERS_MS: TIERS },
    });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await system?.stop();
    await fake?.stop();
  });

  async function startWorker(id: string): Promise<ServiceProcess> {
    const worker = spawnService({
      name: `sync-worker-${id}`,
      ...launchOf('sync-worker'),
      env: {
        ...system.secretsFor('sync-worker'),
        AMQP_URL: system.env.amqpUrl,
        DATABASE_URL: system.env.databaseUrl,
        HTTP_PORT: '0',
        PSC_EGRESS_ALLOW: '127.0.0.1,localhost',
        PSC_RETRY_TIERS_MS: TIERS,
        PSC_WORKER_ID: id,
        // One job at a time per worker, none held in line, so concurrent jobs spread over both
        // replicas.
        PSC_WORKER_CONCURRENCY: '1',
        PSC_WORKER_PREFETCH: '1',
        LOG_LEVEL: 'info',
      },
    });
    workers.push(worker);
    await waitUntilStarted(worker);
    return worker;
  }

  async function register(
    resources: Record<string, unknown>[],
    extra: Record<string, unknown> = {},
  ) {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `stock-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources,
        ...extra,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  const stockResource = (name: string, pageSize: number) => ({
    name,
    request: { path: `/${name}` },
    pagination: { type: 'page', pageSize },
    itemsPath: 'data',
    key: 'code',
    mapping: { code: 'code', qty: 'qty', even: 'qty % 2 = 0' },
  });

  async function run(platformId: string, resource: string): Promise<string> {
    const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.jobs[0]!.id;
  }

  const finished = (id: string) => jobFinished(system, id);

  it('when a worker is killed with SIGKILL in the middle of a 20-page sync, then the job is redelivered and ends succeeded with the same records as a clean run', async () => {
    fake.setCollection('/stock', items(200));
    fake.setLatency(100, { path: '/stock' });
    const platformId = await register([stockResource('stock', 10)]);
    const first = await startWorker('a');

    const jobId = await run(platformId, 'stock');
    await waitFor(() => fake.requests.filter((r) => r.path === '/stock').length >= 5, {
      message: 'sync under way',
    });
    first.kill('SIGKILL');
    killed.add(first);
    await first.exited;
    await startWorker('b');
    const job = await finished(jobId);
    fake.setLatency(0, { path: '/stock' });

    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.stats, {
      fetched: 200,
      inserted: 200,
      updated: 0,
      unchanged: 0,
      deleted: 0,
    });
    const data = await system.api<{ items: { key: string; data: Record<string, unknown> }[] }>(
      `/api/v1/data/${platformId}/stock?limit=500`,
    );
    assert.equal(data.status, 200);
    assert.deepEqual(
      data.body.items.map((r) => [r.key, r.data]),
      items(200).map((i) => [
        i.code,
        { code: i.code, qty: i.qty, even: (i.qty as number) % 2 === 0 },
      ]),
    );
    const evens = await system.api<{ items: unknown[] }>(
      `/api/v1/data/${platformId}/stock?limit=500&even=true`,
    );
    assert.equal(evens.body.items.length, 100);
  });

  it('when two workers sync a platform limited to 5 requests/s, then the platform never sees more than 5 in a second (±1 at the edge)', async () => {
    while (workers.filter((w) => !killed.has(w)).length < 2)
      await startWorker(`r${workers.length}`);
    const names = ['r1', 'r2', 'r3', 'r4'];
    for (const name of names) fake.setCollection(`/${name}`, items(20));
    const platformId = await register(
      names.map((n) => stockResource(n, 5)),
      { rateLimit: { requestsPerSecond: 5, concurrency: 4 } },
    );
    fake.clearRequests();

    const jobs = await Promise.all(names.map((n) => run(platformId, n)));
    const done = await Promise.all(jobs.map(finished));

    assert.deepEqual(
      done.map((j) => j.status),
      names.map(() => 'succeeded'),
    );
    const times = fake.requests.map((r) => r.at).sort((a, b) => a - b);
    assert.equal(times.length, 20);
    const busiest = Math.max(
      ...times.map((t) => times.filter((u) => u >= t && u < t + 1_000).length),
    );
    assert.ok(busiest <= 6, `at most 5 (+1 at a window edge) per second, saw ${busiest}`);
    assert.ok(times.at(-1)! - times[0]! >= 3_400, 'twenty requests at 5/s take about 4 s');
  });
});
