import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type RunningService, type System } from '../support/system.ts';
import { raceCardsResource, type JobView } from '../support/platforms.ts';
import { captureEvents, outboxDepth } from '../support/event-capture.ts';

const CHILDREN = 200;
const failing = (race: number): boolean => race % 20 === 7; // 10 of 200

function racingPlatform(baseUrl: string) {
  return {
    name: `racing-${Math.random().toString(36).slice(2, 8)}`,
    baseUrl,
    breaker: { errorThresholdPercentage: 100, volumeThreshold: 10_000, resetTimeoutMs: 1_000 },
    resources: [
      {
        name: 'races',
        tasks: ['collect'],
        params: ['date', 'meet'],
        request: { path: '/races/{{date}}', query: { meet: '{{meet}}' } },
        itemsPath: 'races',
        key: 'id',
        mapping: { id: 'id' },
      },
      raceCardsResource(),
    ],
  };
}

interface ChildPage {
  items: {
    index: number;
    status: string;
    error: string | null;
    finishedAt: string | null;
    workerId: string | null;
  }[];
  nextCursor: string | null;
}

interface Collection {
  status: string;
  documents: number;
  children: { total: number; succeeded: number; failed: number } | null;
}

describe('collector: /api/v1/collections', () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;
  let platformName: string;
  let second: RunningService;
  let first: RunningService;
  /** The fan-out of 200 children whose 10 failed. */
  let failedFanOut = '';

  before(async () => {
    platform = await startFakePlatform();
    platform.route('GET', '/races/2024-05-01', (req) => ({
      body: {
        races: [
          { id: 'r1', meet: req.query.meet },
          { id: 'r2', meet: req.query.meet },
        ],
      },
    }));
    for (const date of ['2024-06-01', '2024-06-02']) {
      platform.route('GET', `/meetings/${date}`, () => ({
        body: { entries: Array.from({ length: CHILDREN }, (_, race) => ({ race })) },
      }));
      for (let race = 0; race < CHILDREN; race += 1) {
        platform.route('GET', `/card/${date}/${race}`, () =>
          failing(race)
            ? { status: 404, body: { error: 'no card' } }
            : { body: { runners: [{ race, horse: `h${race}` }] } },
        );
      }
    }
    system = await startSystem({
      name: 'collector',
      env: { PSC_MAX_ATTEMPTS: '2', PSC_HEARTBEAT_MS: '300' },
    });
    first = system.services.get('collector')!;
    const racing = racingPlatform(platform.url);
    platformName = racing.name;
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: racing });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformId = created.body.id;
  });

  after(async () => {
    await second?.process.stop();
    await first?.process.stop();
    await system?.stop();
    await platform?.stop();
  });

  const finished = (id: string, timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const { body } = await system.api<JobView>(`/api/v1/jobs/${id}`);
        return ['succeeded', 'failed', 'dead'].includes(body.status) ? body : undefined;
      },
      { timeoutMs, intervalMs: 100, message: `job ${id} finished` },
    );

  it('when a parameterised collection runs, then its documents are stored with provenance', async () => {
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: {
        platformId,
        resource: 'races',
        params: { date: '2024-05-01', meet: 'ascot' },
        priority: 7,
      },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const job = await finished(run.body.jobId);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.stats?.fetched, 2);

    const docs = await system.api<{ items: Record<string, unknown>[]; nextCursor: string | null }>(
      `/api/v1/collections/${run.body.jobId}/documents?limit=1`,
    );
    assert.equal(docs.status, 200);
    assert.equal(docs.body.items.length, 1);
    const doc = docs.body.items[0]!;
    assert.deepEqual(doc.data, { id: 'r1', meet: 'ascot' });
    assert.deepEqual(doc.params, { date: '2024-05-01', meet: 'ascot' });
    assert.equal(doc.platformId, platformId);
    assert.equal(doc.resource, 'races');
    assert.equal(doc.jobId, run.body.jobId);
    assert.equal(doc.url, `${platform.url}/races/2024-05-01?meet=ascot`);
    assert.ok(!Number.isNaN(Date.parse(String(doc.fetchedAt))));
    const rest = await system.api<{ items: { data: unknown }[]; nextCursor: string | null }>(
      `/api/v1/collections/${run.body.jobId}/documents?limit=1&cursor=${docs.body.nextCursor}`,
    );
    assert.deepEqual(
      rest.body.items.map((d) => d.data),
      [{ id: 'r2', meet: 'ascot' }],
    );
  });

  it('when a platform moves to another address, then the next collections call the new one at once, not after the platform cache expires', async () => {
    // Each collector replica keeps the platforms it used for PSC_PLATFORM_CACHE_TTL_MS (30 s
    // here); platform.updated drops the entry, so the move shows within seconds.
    const moved = await startFakePlatform();
    try {
      moved.route('GET', '/races/2024-05-01', () => ({ body: { races: [{ id: 'm1' }] } }));
      const created = await system.api<{ id: string }>('/api/v1/platforms', {
        body: racingPlatform(platform.url),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const collect = async () => {
        const run = await system.api<{ jobId: string }>('/api/v1/collections', {
          body: {
            platformId: created.body.id,
            resource: 'races',
            params: { date: '2024-05-01', meet: 'york' },
          },
        });
        assert.equal(run.status, 202, JSON.stringify(run.body));
        const job = await finished(run.body.jobId);
        assert.equal(job.status, 'succeeded');
        return job.stats?.fetched;
      };
      assert.equal(await collect(), 2, 'first collection, from the first address');
      const patched = await system.client.PATCH('/api/v1/platforms/{id}', {
        params: { path: { id: created.body.id } },
        body: { baseUrl: moved.url },
      });
      assert.equal(patched.response.status, 200);
      await waitFor(async () => ((await collect()) === 1 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 50,
        message: 'a collection from the new address',
      });
      assert.ok(moved.requests.some((r) => r.path === '/races/2024-05-01'));
    } finally {
      await moved.stop();
    }
  });

  it('when a collection lacks a declared param, then it is refused with 422 naming it', async () => {
    const run = await system.api<{ error: { code: string; message: string } }>(
      '/api/v1/collections',
      {
        body: { platformId, resource: 'races', params: { date: '2024-05-01' } },
      },
    );
    assert.equal(run.status, 422);
    assert.match(run.body.error.message, /meet/);
  });

  it('when a collection waits in the queue behind others, then /collections/{id} shows it queued with nothing collected and an empty export; cancelled while queued, it is a 404 saying so', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    platform.route('GET', '/races/hold', async (req) => {
      await held;
      return { body: { races: [{ id: 'h1', meet: req.query.meet }] } };
    });
    const start = (meet: string) =>
      system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId, resource: 'races', params: { date: 'hold', meet } },
      });
    const holding = (await Promise.all(['a', 'b', 'c', 'd'].map(start))).map((r) => r.body.jobId);
    try {
      // The collector's four slots (PSC_COLLECTOR_CONCURRENCY) wait on the platform.
      await waitFor(() => platform.requests.filter((r) => r.path === '/races/hold').length >= 4, {
        message: 'the collector holds four runs',
      });
      const queued = (await start('e')).body.jobId;
      const shown = await system.api<Collection & { jobId: string; startedAt: string | null }>(
        `/api/v1/collections/${queued}`,
      );
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.jobId, queued);
      assert.equal(shown.body.status, 'queued');
      assert.equal(shown.body.documents, 0);
      assert.equal(shown.body.startedAt, null);
      const docs = await system.api<{ items: unknown[] }>(
        `/api/v1/collections/${queued}/documents`,
      );
      assert.deepEqual(docs.body.items, []);
      const exported = await fetch(
        `${system.gatewayUrl}/api/v1/collections/${queued}/documents/export?format=jsonl`,
        { headers: { 'x-api-key': system.adminKey } },
      );
      assert.equal(exported.status, 200);
      assert.equal(await exported.text(), '');

      const cancel = await system.api(`/api/v1/jobs/${queued}/cancel`, {
        body: { reason: 'not needed' },
      });
      assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
      const gone = await system.api<{ error: { message: string } }>(
        `/api/v1/collections/${queued}`,
      );
      assert.equal(gone.status, 404);
      assert.match(gone.body.error.message, /ended cancelled before it collected anything/);
      // An id the ledger does not know either stays a plain 404.
      const unknown = await system.api(`/api/v1/collections/${crypto.randomUUID()}`);
      assert.equal(unknown.status, 404);
    } finally {
      release();
    }
    for (const jobId of holding) assert.equal((await finished(jobId)).status, 'succeeded');
  });

  it('when a collector is stopped, started and run once, then its status follows', async () => {
    const list = await system.api<{ items: { name: string; enabled: boolean; fanOut: boolean }[] }>(
      '/api/v1/collectors',
    );
    assert.equal(list.status, 200);
    // Other tests register platforms of their own: this one's collectors are its name's.
    const prefix = platformName;
    const names = list.body.items
      .map((c) => c.name)
      .filter((name) => name.startsWith(`${prefix}/`))
      .sort();
    assert.deepEqual(names, [`${prefix}/cards`, `${prefix}/races`]);
    const stopped = await system.api<{ enabled: boolean }>(
      `/api/v1/collectors/${prefix}/races/stop`,
      { method: 'POST' },
    );
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.enabled, false);
    const once = await system.api<{ jobId: string }>(`/api/v1/collectors/${prefix}/races/once`, {
      body: { params: { date: '2024-05-01', meet: 'york' } },
    });
    assert.equal(once.status, 202, JSON.stringify(once.body));
    assert.equal((await finished(once.body.jobId)).status, 'succeeded');
    const status = await system.api<{
      enabled: boolean;
      lastRun: { jobId: string; status: string };
    }>(`/api/v1/collectors/${prefix}/races/status`);
    assert.equal(status.body.enabled, false);
    assert.equal(status.body.lastRun.jobId, once.body.jobId);
    const started = await system.api<{ enabled: boolean }>(
      `/api/v1/collectors/${prefix}/races/start`,
      { method: 'POST' },
    );
    assert.equal(started.body.enabled, true);
    const missing = await system.api(`/api/v1/collectors/${prefix}/nothing/status`);
    assert.equal(missing.status, 404);
  });

  it('when the last child was counted but its collector died before finishing the collection, then the child delivered again finishes it', async () => {
    // A child's success is one statement (child row, documents, count); the collection is
    // finished by a transaction after it. Here the first attempt fails (503) and, before its
    // retry, the database is put in the state a collector that died between the two leaves:
    // the only child counted, the collection still running. The retry must finish it.
    const date = '2024-07-01';
    platform.route('GET', `/meetings/${date}`, () => ({ body: { entries: [{ race: 0 }] } }));
    platform.route('GET', `/card/${date}/0`, () => ({ body: { runners: [{ race: 0 }] } }));
    platform.setFault({ status: 503, body: { error: 'busy' } }, { path: `/card/${date}/0` });
    const db = new pg.Client({ connectionString: system.env.databaseUrl });
    await db.connect();
    try {
      const run = await system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId, resource: 'cards', params: { date } },
      });
      assert.equal(run.status, 202, JSON.stringify(run.body));
      await waitFor(
        () => (platform.requests.some((r) => r.path === `/card/${date}/0`) ? true : undefined),
        { timeoutMs: 20_000, intervalMs: 10, message: 'the child’s first attempt' },
      );
      const ended = await db.query(
        `update collector.children set status = 'succeeded', finished_at = now()
          where parent_job_id = $1 and index = 0 and status = 'pending'`,
        [run.body.jobId],
      );
      assert.equal(ended.rowCount, 1, 'the child was still pending before its retry');
      await db.query(
        `update collector.collections set children_succeeded = children_succeeded + 1
          where job_id = $1`,
        [run.body.jobId],
      );
      const job = await finished(run.body.jobId, 20_000);
      assert.equal(job.status, 'succeeded');
      const collection = await system.api<Collection>(`/api/v1/collections/${run.body.jobId}`);
      assert.equal(collection.body.status, 'succeeded');
      assert.deepEqual(collection.body.children, { total: 1, succeeded: 1, failed: 0 });
    } finally {
      platform.setFault(null, { path: `/card/${date}/0` });
      await db.end();
    }
  });

  it('when 200 children fan out over two collectors and 10 fail, then the parent fails with 190/10 and one collection.completed', async () => {
    second = await system.start('collector', {
      PSC_MAX_ATTEMPTS: '2',
      PSC_HEARTBEAT_MS: '300',
    });
    const completed = await captureEvents(system.env.vhost, 'collection.completed');
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId, resource: 'cards', params: { date: '2024-06-01' } },
    });
    assert.equal(run.status, 202);
    const job = await finished(run.body.jobId);
    assert.equal(job.status, 'failed');
    assert.match(job.error?.message ?? '', /10 of 200 children failed/);
    failedFanOut = run.body.jobId;
    const collection = await system.api<Collection>(`/api/v1/collections/${run.body.jobId}`);
    assert.deepEqual(collection.body.children, { total: 200, succeeded: 190, failed: 10 });
    assert.equal(collection.body.documents, 190);

    // Both replicas took children, and once both outboxes are empty no second event can follow.
    const workers = await system.api<{
      items: { workerId: string; processed: { succeeded: number } }[];
    }>('/api/v1/monitoring/workers');
    const collectors = workers.body.items.filter((w) => w.workerId.startsWith('collector-'));
    assert.equal(collectors.length, 2);
    await waitFor(async () => (await outboxDepth(system.env.databaseUrl, 'collector')) === 0, {
      message: 'collector outbox relayed',
    });
    const events = (await completed.drain()).filter((e) => e.payload.jobId === run.body.jobId);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.payload.status, 'failed');
    assert.deepEqual(events[0]?.payload.children, { total: 200, succeeded: 190, failed: 10 });
  });

  it('GET /collections/{jobId}/children: when that fan-out has ended, then it lists exactly the failed children with their errors and replicas, filters by status, pages by index, and answers 404 for a job without a collection and 422 for a bad status, limit or cursor', async () => {
    assert.ok(failedFanOut, 'the fan-out of the previous test ran');
    const children = (query: string) =>
      system.api<ChildPage>(`/api/v1/collections/${failedFanOut}/children?${query}`);
    const expected = Array.from({ length: CHILDREN }, (_, race) => race).filter(failing);

    const all = await children('status=failed&limit=500');
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.items.map((c) => c.index),
      expected,
    );
    assert.equal(all.body.nextCursor, null);
    for (const child of all.body.items) {
      assert.equal(child.status, 'failed');
      assert.equal(child.error, 'upstream_status: platform answered HTTP 404');
      assert.ok(child.finishedAt && Date.parse(child.finishedAt) > 0, 'when it ended');
      assert.match(child.workerId ?? '', /^collector-/);
    }

    // Four at a time: pages by index, the last one without a cursor.
    const pages: number[][] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const { status, body }: { status: number; body: ChildPage } = await children(
        `status=failed&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(status, 200, JSON.stringify(body));
      pages.push(body.items.map((c) => c.index));
      cursor = body.nextCursor;
    }
    assert.deepEqual(pages, [expected.slice(0, 4), expected.slice(4, 8), expected.slice(8)]);

    const succeeded = await children('status=succeeded&limit=500');
    assert.equal(succeeded.body.items.length, CHILDREN - expected.length);
    assert.ok(succeeded.body.items.every((c) => c.status === 'succeeded' && c.error === null));
    assert.deepEqual((await children('status=pending')).body, { items: [], nextCursor: null });
    // Unfiltered: the first 50 by default, every state.
    const first = await children('');
    assert.deepEqual(
      first.body.items.map((c) => c.index),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(first.body.nextCursor, '49');

    const unknown = await system.api<{ error: { code: string } }>(
      `/api/v1/collections/${crypto.randomUUID()}/children`,
    );
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    for (const query of ['status=broken', 'limit=0', 'limit=501', 'cursor=abc']) {
      const bad = await system.api<{ error: { code: string; details?: { path: string }[] } }>(
        `/api/v1/collections/${failedFanOut}/children?${query}`,
      );
      assert.equal(bad.status, 422, `${query}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.error.code, 'validation_failed', query);
      assert.deepEqual(
        bad.body.error.details?.map((d) => d.path),
        [`query.${query.split('=')[0]!}`],
      );
    }
  });

  it('when one collector is killed mid-fan-out, then the parent still ends with exact counts', async () => {
    platform.setLatency(40);
    const completed = await captureEvents(system.env.vhost, 'collection.completed');
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId, resource: 'cards', params: { date: '2024-06-02' } },
    });
    await waitFor(
      async () => {
        const c = await system.api<Collection>(`/api/v1/collections/${run.body.jobId}`);
        return c.status === 200 && (c.body.children?.succeeded ?? 0) >= 20;
      },
      { timeoutMs: 30_000, message: 'fan-out under way' },
    );
    first.process.kill('SIGKILL');
    await first.process.exited;
    const job = await finished(run.body.jobId, 90_000);
    platform.setLatency(0);
    assert.equal(job.status, 'failed');
    const collection = await system.api<Collection>(`/api/v1/collections/${run.body.jobId}`);
    assert.deepEqual(collection.body.children, { total: 200, succeeded: 190, failed: 10 });
    assert.equal(collection.body.documents, 190);
    await waitFor(async () => (await outboxDepth(system.env.databaseUrl, 'collector')) === 0, {
      message: 'collector outbox relayed',
    });
    const events = (await completed.drain()).filter((e) => e.payload.jobId === run.body.jobId);
    assert.equal(events.length, 1);
  });
});
