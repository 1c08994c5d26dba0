import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QUEUES } from '@psc/contracts';
import { managementPath } from '@psc/messaging';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type ApiPathWithQuery, type System } from '../support/system.ts';
import { boothPlatform, type JobView, jobFinished } from '../support/platforms.ts';
import { captureEvents, management } from '../support/event-capture.ts';

interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Every message psc publishes has a bound, and input that would break it is refused where it
 * enters — as a 422 naming the limit, or a job that fails with the reason — never left in an
 * outbox to block the messages behind it. Each case ends with another platform's sync working.
 */
describe('messages stay within their bounds: params, keys, change events, fan-outs, the outbox', () => {
  let system: System;
  let good: FakePlatform;
  let hostile: FakePlatform;
  let goodId: string;
  let hostileId: string;

  before(async () => {
    good = await startFakePlatform({ collections: { '/booth/all': boothSample(12) } });
    hostile = await startFakePlatform();
    hostile.route('GET', '/long-key', () => ({ body: { data: [{ id: 'k'.repeat(5_000) }] } }));
    // 1,500 keys of 900 characters: 1.35 MB of keys, more than one message holds.
    hostile.route('GET', '/wide', () => ({
      body: {
        data: Array.from({ length: 1_500 }, (_, i) => ({
          id: `${String(i).padStart(5, '0')}${'w'.repeat(895)}`,
        })),
      },
    }));
    hostile.route('GET', '/index/fat', () => ({
      body: { entries: [{ blob: 'x'.repeat(1_100_000) }] },
    }));
    hostile.route('GET', '/index/many', () => ({
      body: { entries: Array.from({ length: 25 }, (_, n) => ({ n })) },
    }));
    hostile.route('GET', '/child', () => ({ body: { ok: true } }));
    system = await startSystem({ name: 'bounds', env: { PSC_FANOUT_MAX_CHILDREN: '20' } });
    goodId = await register(boothPlatform(good.url));
    const fanOut = (path: string) => ({
      name: path.split('/').at(-1)!,
      tasks: ['collect'],
      request: { path },
      itemsPath: 'entries',
      key: 'n',
      mapping: { n: 'n' },
      fanOut: { entriesPath: 'entries', request: { path: '/child' } },
    });
    hostileId = await register({
      name: `bounds-${Math.random().toString(36).slice(2, 8)}`,
      baseUrl: hostile.url,
      resources: [
        {
          name: 'longkey',
          request: { path: '/long-key' },
          itemsPath: 'data',
          key: 'id',
          mapping: { id: 'id' },
        },
        {
          name: 'wide',
          request: { path: '/wide' },
          itemsPath: 'data',
          key: 'id',
          mapping: { n: '$substring(id, 0, 5)' },
          changeEvents: true,
        },
        fanOut('/index/fat'),
        fanOut('/index/many'),
      ],
    });
  });

  after(async () => {
    await system?.stop();
    await good?.stop();
    await hostile?.stop();
  });

  async function register(body: Record<string, unknown>): Promise<string> {
    const res = await system.api<{ id: string }>('/api/v1/platforms', { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }
  const finished = (id: string) => jobFinished(system, id);
  async function run(path: ApiPathWithQuery, body: Record<string, unknown>): Promise<string> {
    const res = await system.api<{ jobs?: { id: string }[]; jobId?: string }>(path, { body });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.jobId ?? res.body.jobs![0]!.id;
  }
  /** The other platform still syncs: nothing above stopped or stalled psc. */
  async function othersStillWork(): Promise<void> {
    const job = await finished(
      await run('/api/v1/run/sync', { platformId: goodId, resource: 'booths' }),
    );
    assert.equal(job.status, 'succeeded');
  }

  it('when run-now or a collection carries params of about 1 MB, then it is refused with 422 naming the 64 KiB limit', async () => {
    const params = { blob: 'p'.repeat(1_000_000) };
    for (const [path, body] of [
      ['/api/v1/run/sync', { platformId: goodId, resource: 'booths', params }],
      ['/api/v1/collections', { platformId: hostileId, resource: 'many', params }],
    ] as const) {
      const res = await system.api<ErrorBody>(path, { body });
      assert.equal(res.status, 422, `${path}: ${JSON.stringify(res.body).slice(0, 200)}`);
      assert.match(res.body.error.message, /65536 bytes/);
    }
    await othersStillWork();
  });

  it('when a platform sends a key of 5,000 characters, then the sync fails at once with the limit named', async () => {
    const job = await finished(
      await run('/api/v1/run/sync', { platformId: hostileId, resource: 'longkey' }),
    );
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 1);
    assert.match(job.error?.message ?? '', /key: longer than 1000 characters/);
    await othersStillWork();
  });

  it('when a sync changes more keys than one change event holds, then its changes arrive in several events, every key once', async () => {
    const events = await captureEvents(system.env.vhost, 'records.changed');
    const job = await finished(
      await run('/api/v1/run/sync', { platformId: hostileId, resource: 'wide' }),
    );
    assert.equal(job.status, 'succeeded');
    const changes = await waitFor(
      async () => {
        const got = (await events.drain()).filter((e) => e.payload.jobId === job.id);
        return got.length > 0 ? got : undefined;
      },
      { message: 'change events' },
    );
    const keys = changes.flatMap((e) => (e.payload.changes as { key: string }[]).map((c) => c.key));
    assert.ok(changes.length >= 2, `split over ${changes.length} events`);
    assert.equal(keys.length, 1_500);
    assert.equal(new Set(keys).size, 1_500);
  });

  it('when a fan-out index entry is over a megabyte, or the index has more entries than PSC_FANOUT_MAX_CHILDREN, then the collect job fails at once with the reason and no collection is left running', async () => {
    const fat = await finished(
      await run('/api/v1/collections', { platformId: hostileId, resource: 'fat', params: {} }),
    );
    assert.equal(fat.status, 'failed');
    assert.match(fat.error?.message ?? '', /exceeds the 1048576-byte cap/);
    const many = await finished(
      await run('/api/v1/collections', { platformId: hostileId, resource: 'many', params: {} }),
    );
    assert.equal(many.status, 'failed');
    assert.match(many.error?.message ?? '', /25 entries; a fan-out may start at most 20 children/);
    for (const id of [fat.id, many.id]) {
      const collection = await system.api(`/api/v1/collections/${id}`);
      assert.equal(collection.status, 404, 'nothing was started');
    }
    await othersStillWork();
  });

  it('GET /api/v1/monitoring/outbox: when a message can never be routed, then its outbox parks it with the reason after its tries, and the rest flows', async () => {
    // Nothing consumes or declares collector.jobs while the collector is down: a collect job's
    // job.run has nowhere to go (publishes are mandatory).
    await system.services.get('collector')!.process.stop();
    const del = management.delete(managementPath('queues', system.env.vhost, QUEUES.collectorJobs));
    await assert.doesNotReject(del, 'queue deleted');
    const lost = await run('/api/v1/collections', {
      platformId: hostileId,
      resource: 'many',
      params: {},
    });

    const parked = await waitFor(
      async () => {
        const res = await system.api<{
          items: { service: string; type: string; reason: string }[];
        }>('/api/v1/monitoring/outbox');
        return res.body.items.find((m) => m.service === 'scheduler' && m.type === 'job.run');
      },
      { timeoutMs: 60_000, intervalMs: 500, message: 'the job.run parked' },
    );
    assert.match(parked.reason, /no queue is bound/);
    assert.equal((await system.api<JobView>(`/api/v1/jobs/${lost}`)).body.status, 'queued');
    await othersStillWork();
  });
});
