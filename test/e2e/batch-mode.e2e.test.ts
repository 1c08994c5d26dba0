import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  boothSample,
  freePort,
  spawnService,
  startFakePlatform,
  waitFor,
  type FakePlatform,
} from '@psc/testing';
import { launchOf } from '../support/launch.ts';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform, type JobView } from '../support/platforms.ts';

/**
 * Batch mode (seed 003): the registry, scheduler and gateway run as usual; the worker under test
 * starts with `--until-drained` only after its work is queued, and must exit 0 once it is done.
 */
describe('batch mode: sync-worker and collector --until-drained', () => {
  let system: System;
  let platform: FakePlatform;

  before(async () => {
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(25) } });
    platform.route('GET', '/feed', () => ({ body: { items: [{ id: 1 }, { id: 2 }] } }));
    system = await startSystem({
      name: 'batch-mode',
      services: ['platform-registry', 'scheduler', 'gateway'],
    });
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  async function runUntilDrained(
    name: 'sync-worker' | 'collector',
    extraEnv: Record<string, string> = {},
  ) {
    const worker = spawnService({
      name,
      ...launchOf(name),
      args: ['--until-drained'],
      env: {
        ...system.secretsFor(name),
        AMQP_URL: system.env.amqpUrl,
        DATABASE_URL: system.env.databaseUrl,
        HTTP_PORT: String(await freePort()),
        PSC_EGRESS_ALLOW: '127.0.0.1,localhost',
        LOG_LEVEL: 'info',
        ...extraEnv,
      },
    });
    const exit = await worker.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, worker.lines().slice(-10).join('\n'));
    assert.ok(worker.lines().some((l) => l.includes('queues drained')));
  }

  async function jobStatus(id: string): Promise<string> {
    return (await system.api<JobView>(`/api/v1/jobs/${id}`)).body.status;
  }

  it('when sync jobs are queued, then sync-worker --until-drained runs them all and exits 0', async () => {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url),
    });
    const ids: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
        body: { platformId: created.body.id, resource: 'booths' },
      });
      assert.equal(run.status, 202);
      ids.push(run.body.jobs[0]!.id);
    }

    await runUntilDrained('sync-worker');

    // Everything the worker emitted was relayed before it exited.
    for (const id of ids) {
      await waitFor(async () => (await jobStatus(id)) === 'succeeded', {
        message: `job ${id} succeeded`,
      });
    }
  });

  it('when a collection is queued, then collector --until-drained runs it and exits 0', async () => {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `feed-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: platform.url,
        resources: [
          {
            name: 'feed',
            tasks: ['collect'],
            request: { path: '/feed' },
            itemsPath: 'items',
            key: 'id',
            mapping: { id: 'id' },
          },
        ],
      },
    });
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId: created.body.id, resource: 'feed' },
    });
    assert.equal(run.status, 202);

    await runUntilDrained('collector');

    await waitFor(async () => (await jobStatus(run.body.jobId)) === 'succeeded', {
      message: 'collection succeeded',
    });
  });

  it('when a fan-out is queued, then a stage-1 batch run exits with its children queued and a stage-2 batch run collects them', async () => {
    platform.route('GET', '/index', () => ({
      body: { entries: Array.from({ length: 5 }, (_, n) => ({ n })) },
    }));
    for (let n = 0; n < 5; n += 1) {
      platform.route('GET', `/child/${n}`, () => ({ body: { items: [{ n }] } }));
    }
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `fan-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: platform.url,
        resources: [
          {
            name: 'fan',
            tasks: ['collect'],
            request: { path: '/index' },
            itemsPath: 'entries',
            key: 'n',
            mapping: { n: 'n' },
            fanOut: {
              entriesPath: 'entries',
              request: { path: '/child/{{n}}' },
              itemsPath: 'items',
            },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId: created.body.id, resource: 'fan' },
    });
    assert.equal(run.status, 202);

    // Stage 1 alone drains only its own queue: it exits with the job unfinished and its five
    // children waiting in collector.children (declared by the stage-1 replica itself).
    await runUntilDrained('collector', { PSC_COLLECTOR_STAGES: 'index' });
    assert.ok(!['succeeded', 'failed', 'dead'].includes(await jobStatus(run.body.jobId)));
    const queues = await system.api<{ items: { name: string; ready: number }[] }>(
      '/api/v1/monitoring/queues',
    );
    assert.equal(queues.body.items.find((q) => q.name === 'collector.children')?.ready, 5);

    await runUntilDrained('collector', { PSC_COLLECTOR_STAGES: 'children' });
    const done = await waitFor(
      async () => {
        const job = (await system.api<JobView>(`/api/v1/jobs/${run.body.jobId}`)).body;
        return job.status === 'succeeded' ? job : undefined;
      },
      { message: 'fan-out collection succeeded' },
    );
    assert.equal(done.stats?.fetched, 5);
  });
});
