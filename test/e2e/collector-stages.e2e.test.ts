import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, waitFor, type FakePlatform, type Item } from '@psc/testing';
import { startSystem, type RunningService, type System } from '../support/system.ts';
import type { JobView } from '../support/platforms.ts';

const RACES = 24;
/** Over 600 KB of UTF-8 in one document: longer than an export page (~192 K characters). */
const BLOB = '😀'.repeat(160_000);
const items = (prefix: string, n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, n: i }));

/** Collect resources with every pagination style; `cards` fans out from a paged index. */
function pagedPlatform(baseUrl: string) {
  const collect = (name: string, path: string, pagination: Record<string, unknown>) => ({
    name,
    tasks: ['collect'],
    request: { path },
    itemsPath: 'data',
    pagination,
    key: 'id',
    mapping: { id: 'id' },
  });
  return {
    name: `paged-${Math.random().toString(36).slice(2, 8)}`,
    baseUrl,
    resources: [
      collect('by-page', '/paged/page', {
        type: 'page',
        pageParam: 'page',
        sizeParam: 'size',
        pageSize: 2,
      }),
      collect('by-cursor', '/paged/cursor', {
        type: 'cursor',
        nextPath: 'next',
        cursorParam: 'cursor',
        limitParam: 'limit',
        limit: 3,
      }),
      collect('by-link', '/paged/link', { type: 'link', sizeParam: 'size', pageSize: 4 }),
      collect('big', '/big', { type: 'none' }),
      {
        ...collect('cards', '/meetings', {
          type: 'offset',
          offsetParam: 'offset',
          limitParam: 'limit',
          limit: 5,
          totalPath: 'total',
        }),
        fanOut: {
          entriesPath: 'data',
          request: { path: '/card/{{race}}' },
          itemsPath: 'runners',
        },
      },
    ],
  };
}

interface ExportedDocument {
  id: string;
  jobId: string;
  childIndex: number | null;
  url: string;
  workerId: string | null;
  data: Record<string, unknown>;
}

describe('collector stages and paged collect requests', { timeout: 180_000 }, () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;
  const replicas: RunningService[] = [];

  before(async () => {
    platform = await startFakePlatform();
    platform.setCollection('/paged/page', items('p', 7), { paging: 'page' });
    platform.setCollection('/paged/cursor', items('c', 8), { paging: 'cursor' });
    platform.setCollection('/paged/link', items('l', 9), { paging: 'link' });
    platform.setCollection(
      '/meetings',
      Array.from({ length: RACES }, (_, race) => ({ race })),
      { paging: 'offset' },
    );
    platform.route('GET', '/big', () => ({
      body: { data: [{ id: 'big', blob: BLOB }, { id: 'small' }] },
    }));
    for (let race = 0; race < RACES; race += 1) {
      platform.route('GET', `/card/${race}`, () => ({
        body: { runners: [{ race, horse: `h${race}` }] },
      }));
    }
    system = await startSystem({
      name: 'collector-stages',
      services: ['platform-registry', 'scheduler', 'gateway'],
      env: { PSC_HEARTBEAT_MS: '300' },
    });
    // One stage-1 replica and two stage-2 replicas, each taking one child at a time so that
    // children spread over both; each is ready with only its own stage's consumers.
    replicas.push(
      await system.start('collector', {
        PSC_COLLECTOR_STAGES: 'index',
        PSC_WORKER_ID: 'collector-index',
      }),
    );
    for (const id of ['a', 'b']) {
      replicas.push(
        await system.start('collector', {
          PSC_COLLECTOR_STAGES: 'children',
          PSC_WORKER_ID: `collector-children-${id}`,
          PSC_COLLECTOR_CHILD_CONCURRENCY: '1',
          PSC_COLLECTOR_CHILD_PREFETCH: '1',
        }),
      );
    }
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: pagedPlatform(platform.url),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformId = created.body.id;
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.process.stop()));
    await system?.stop();
    await platform?.stop();
  });

  const finished = (id: string) =>
    waitFor(
      async () => {
        const { body } = await system.api<JobView>(`/api/v1/jobs/${id}`);
        return ['succeeded', 'failed', 'dead'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: `job ${id} finished` },
    );

  async function collect(resource: string): Promise<string> {
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId, resource },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    return run.body.jobId;
  }

  async function exported(jobId: string): Promise<ExportedDocument[]> {
    const response = await fetch(
      `${system.gatewayUrl}/api/v1/collections/${jobId}/documents/export?format=jsonl`,
      { headers: { 'x-api-key': system.adminKey } },
    );
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const text = await response.text();
    assert.ok(text.endsWith('\n'), 'every line ends with a newline');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as ExportedDocument);
  }

  it('when stages run on separate replicas, then each consumes only its own queue', async () => {
    const queues = await system.api<{ items: { name: string; consumers: number }[] }>(
      '/api/v1/monitoring/queues',
    );
    assert.equal(queues.status, 200);
    const consumers = (name: string) => queues.body.items.find((q) => q.name === name)?.consumers;
    assert.equal(consumers('collector.jobs'), 1);
    assert.equal(consumers('collector.children'), 2);
  });

  it('when a fan-out runs with one stage-1 and two stage-2 collectors, then its children spread over both and each is collected once', async () => {
    platform.setLatency(30);
    const jobId = await collect('cards');
    const job = await finished(jobId);
    platform.setLatency(0);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    const collection = await system.api<{ documents: number; children: unknown }>(
      `/api/v1/collections/${jobId}`,
    );
    assert.deepEqual(collection.body.children, { total: RACES, succeeded: RACES, failed: 0 });

    const docs = await exported(jobId);
    const indexes = docs.map((d) => d.childIndex).sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(
      indexes,
      Array.from({ length: RACES }, (_, i) => i),
      'every child exactly once',
    );
    const races = docs.map((d) => d.data.race).sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(
      races,
      Array.from({ length: RACES }, (_, i) => i),
    );
    const byWorker = new Map<string, number>();
    for (const d of docs)
      byWorker.set(String(d.workerId), (byWorker.get(String(d.workerId)) ?? 0) + 1);
    assert.deepEqual(
      [...byWorker.keys()].sort(),
      ['collector-children-a', 'collector-children-b'],
      `children per worker: ${JSON.stringify([...byWorker])}`,
    );
    // The paged index: its 24 entries came in 5 requests of 5.
    const indexRequests = platform.requests.filter((r) => r.path === '/meetings');
    assert.equal(indexRequests.length, 5);
  });

  for (const [resource, prefix, total] of [
    ['by-page', 'p', 7],
    ['by-cursor', 'c', 8],
    ['by-link', 'l', 9],
  ] as const) {
    it(`when a collect request uses ${resource.slice(3)} pagination, then every page's documents are stored`, async () => {
      const jobId = await collect(resource);
      const job = await finished(jobId);
      assert.equal(job.status, 'succeeded', JSON.stringify(job));
      assert.equal(job.stats?.fetched, total);
      const docs = await exported(jobId);
      assert.deepEqual(
        docs.map((d) => d.data.id),
        items(prefix, total).map((i) => i.id),
      );
      // Each document names the page it came from, and stage 1 ran on the index replica.
      assert.ok(new Set(docs.map((d) => d.url)).size > 1, 'documents from several pages');
      assert.ok(docs.every((d) => d.workerId === 'collector-index'));
    });
  }

  it('when a document is longer than an export page, then it still comes whole on one line', async () => {
    const jobId = await collect('big');
    assert.equal((await finished(jobId)).status, 'succeeded');
    const docs = await exported(jobId);
    assert.deepEqual(
      docs.map((d) => d.data),
      [{ id: 'big', blob: BLOB }, { id: 'small' }],
    );
  });

  it('when an unknown collection is exported, then the answer is 404', async () => {
    const response = await system.api(
      '/api/v1/collections/00000000-0000-4000-8000-000000000000/documents/export?format=jsonl',
    );
    assert.equal(response.status, 404);
  });
});
