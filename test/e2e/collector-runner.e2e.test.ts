import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type RunningService, type System } from '../support/system.ts';
import type { JobView } from '../support/platforms.ts';

const CHILDREN = 10;

interface Collection {
  status: string;
  documents: number;
  children: { total: number; succeeded: number; failed: number } | null;
}

interface Breaker {
  platformId: string;
  service: string;
  workerId: string;
  state: string;
}

/**
 * The collector on the job runner and platform fetcher it shares with the sync-worker: its dead
 * jobs in the ledger's dead-letter queue and replayed from there, its platform limits held across
 * replicas, its breakers listed and reset over REST.
 */
describe('collector on the shared job runner: replay, limits across replicas, breakers', () => {
  let system: System;
  let platform: FakePlatform;
  let first: RunningService;
  let second: RunningService | undefined;
  /** Which children answer 500 right now. */
  const broken = new Set<number>();

  before(async () => {
    platform = await startFakePlatform();
    platform.route('GET', '/index', () => ({
      body: { entries: Array.from({ length: CHILDREN }, (_, n) => ({ n })) },
    }));
    for (let n = 0; n < CHILDREN; n += 1) {
      platform.route('GET', `/item/${n}`, () =>
        broken.has(n) ? { status: 500, body: { error: 'down' } } : { body: { n, ok: true } },
      );
    }
    platform.route('GET', '/flaky', () =>
      broken.has(-1) ? { status: 503, body: { error: 'down' } } : { body: { ok: true } },
    );
    system = await startSystem({
      name: 'collector-runner',
      env: { PSC_MAX_ATTEMPTS: '2', PSC_RETRY_TIERS_MS: '100,200' },
    });
    first = system.services.get('collector')!;
  });

  after(async () => {
    await second?.process.stop();
    await first?.process.stop();
    await system?.stop();
    await platform?.stop();
  });

  const register = async (body: Record<string, unknown>): Promise<string> => {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: { name: `c-${Math.random().toString(36).slice(2, 8)}`, baseUrl: platform.url, ...body },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  };
  const fanOut = {
    name: 'items',
    tasks: ['collect'],
    request: { path: '/index' },
    itemsPath: 'entries',
    key: 'n',
    mapping: { n: 'n' },
    fanOut: { entriesPath: 'entries', request: { path: '/item/{{n}}' } },
  };
  const collect = async (platformId: string, resource: string): Promise<string> => {
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId, resource, params: {} },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    return run.body.jobId;
  };
  const job = async (id: string) =>
    (await system.api<JobView & { run: number; trigger: string }>(`/api/v1/jobs/${id}`)).body;
  const finished = (id: string, run = 1, timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const j = await job(id);
        return j.run === run && ['succeeded', 'failed', 'dead'].includes(j.status) ? j : undefined;
      },
      { timeoutMs, intervalMs: 100, message: `job ${id} run ${run} finished` },
    );

  it('POST /api/v1/dlq/{jobId}/replay: when a fan-out collection failed on some children, then it is in the dead-letter queue as a collect job, and its replay collects every child again and succeeds', async () => {
    const platformId = await register({ resources: [fanOut] });
    broken.add(3).add(7);
    const jobId = await collect(platformId, 'items');
    const failed = await finished(jobId);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error?.message ?? '', /2 of 10 children failed/);
    const failedChildren = async () =>
      (
        await system.api<{ items: { index: number; error: string | null }[] }>(
          `/api/v1/collections/${jobId}/children?status=failed`,
        )
      ).body.items.map((c) => [c.index, c.error]);
    const down = 'upstream_status: platform answered HTTP 500';
    assert.deepEqual(await failedChildren(), [
      [3, down],
      [7, down],
    ]);

    const dlq = await system.api<{
      items: { jobId: string; taskType: string; replayable: boolean }[];
    }>(`/api/v1/dlq?taskType=collect&platformId=${platformId}`);
    assert.deepEqual(
      dlq.body.items.map((d) => [d.jobId, d.taskType, d.replayable]),
      [[jobId, 'collect', true]],
    );

    broken.clear();
    const replay = await system.api<{ replayed: string[] }>(`/api/v1/dlq/${jobId}/replay`, {
      method: 'POST',
    });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.deepEqual(replay.body.replayed, [jobId]);
    const done = await finished(jobId, 2);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.trigger, 'replay');
    const collection = await system.api<Collection>(`/api/v1/collections/${jobId}`);
    assert.deepEqual(collection.body.children, { total: 10, succeeded: 10, failed: 0 });
    assert.equal(collection.body.documents, 10, 'the failed run’s documents were replaced');
    assert.deepEqual(await failedChildren(), [], 'the replayed run’s children, not the first’s');
    // The last child ends the parent, and its collector logs the success with the parent's stats.
    const logs = await system.api<{
      items: { message: string; service: string; fields: { run?: number } }[];
    }>(`/api/v1/logs?jobId=${jobId}&level=info`);
    const succeeded = logs.body.items.filter((e) => e.message === 'job succeeded');
    assert.deepEqual(
      succeeded.map((e) => [e.service, e.fields.run]),
      [['collector', 2]],
    );
    const after = await system.api<{ items: { jobId: string }[] }>(
      `/api/v1/dlq?platformId=${platformId}`,
    );
    assert.deepEqual(after.body.items, []);
  });

  it('when two collectors fan out against a platform limited to 2 requests/s, then the platform never sees more than 2 in a second (±1 at the edge), and children that would wait for a request slot are deferred rather than held in a collector’s slot', async () => {
    second = await system.start('collector', {
      PSC_MAX_ATTEMPTS: '2',
      PSC_RETRY_TIERS_MS: '100,200',
    });
    const platformId = await register({
      resources: [fanOut],
      rateLimit: { requestsPerSecond: 2, concurrency: 2 },
    });
    platform.clearRequests();
    const jobId = await collect(platformId, 'items');
    const done = await finished(jobId);
    assert.equal(done.status, 'succeeded');
    const workers = await system.api<{
      items: { workerId: string; processed: { succeeded: number } }[];
    }>('/api/v1/monitoring/workers');
    assert.equal(workers.body.items.filter((w) => w.workerId.startsWith('collector-')).length, 2);

    const times = platform.requests.map((r) => r.at).sort((a, b) => a - b);
    assert.equal(times.length, CHILDREN + 1, 'the index and each child once');
    const busiest = Math.max(
      ...times.map((t) => times.filter((u) => u >= t && u < t + 1_000).length),
    );
    assert.ok(busiest <= 3, `at most 2 (+1 at a window edge) per second, saw ${busiest}`);
    assert.ok(times.at(-1)! - times[0]! >= 4_500, 'eleven requests at 2/s take about 5 s');
    // Eight children at once for two request slots: those that would wait over
    // PSC_PLATFORM_TURN_WAIT_MS were deferred, not held in the collectors' own slots.
    let deferred = 0;
    for (const collector of [first, second]) {
      const metrics = await (await fetch(`${collector.url}/metrics`)).text();
      const lines = metrics
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('psc_platform_deferrals_total{') && l.includes(`platform="${platformId}"`),
        );
      for (const l of lines) deferred += Number(l.split(' ').at(-1));
    }
    assert.ok(deferred > 0, 'children that would have waited were deferred');
    // One collector again: the breaker test below needs one replica's breaker to see every call.
    await second.process.stop();
    second = undefined;
  });

  it('POST /api/v1/platforms/{id}/breaker/reset: when a collector’s breaker for a platform is open, then it is listed with its service and a reset lets the held job run at once', async () => {
    const platformId = await register({
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 120_000 },
      resources: [
        {
          name: 'flaky',
          tasks: ['collect'],
          request: { path: '/flaky' },
          itemsPath: '$',
          key: 'ok',
          mapping: { ok: 'ok' },
        },
      ],
    });
    broken.add(-1);
    // Two failed tries: enough for the breaker's threshold.
    const first = await collect(platformId, 'flaky');
    assert.equal((await finished(first)).status, 'dead');

    const open = await waitFor(
      async () => {
        const list = await system.api<{ items: Breaker[] }>(
          `/api/v1/monitoring/breakers?platformId=${platformId}`,
        );
        return list.body.items.find((b) => b.service === 'collector' && b.state === 'open');
      },
      { message: 'a collector breaker open' },
    );
    assert.equal(open.platformId, platformId);

    broken.clear();
    const held = await collect(platformId, 'flaky');
    await waitFor(async () => (await job(held)).status === 'waiting', {
      message: 'the job waits for the breaker',
    });
    const reset = await system.api<{ platformId: string }>(
      `/api/v1/platforms/${platformId}/breaker/reset`,
      { method: 'POST' },
    );
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    // The breaker would stay open for two minutes; the reset closes it on the next try.
    const done = await finished(held, 1, 45_000);
    assert.equal(done.status, 'succeeded');
    await waitFor(
      async () => {
        const list = await system.api<{ items: Breaker[] }>(
          `/api/v1/monitoring/breakers?platformId=${platformId}`,
        );
        return list.body.items.some((b) => b.service === 'collector' && b.state === 'closed');
      },
      { message: 'breaker closed' },
    );
  });
});
