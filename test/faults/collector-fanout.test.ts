import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { outboxDepth } from '../support/event-capture.ts';
import { raceCardsResource } from '../support/platforms.ts';
import { startRig, type Rig } from './support/rig.ts';

const CHILDREN = 150;

interface Collection {
  documents: number;
  children: { total: number; succeeded: number; failed: number } | null;
}

describe('faults: collectors killed mid fan-out', { timeout: 480_000 }, () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  it('when each of two collectors is killed with SIGKILL mid fan-out, then the collect job succeeds with every child counted once and one document per child, within 60 s of the last kill', async () => {
    rig = await startRig({ name: 'faults-fanout' });
    const r = rig;
    const { system, fake } = r;
    fake.route('GET', '/meetings/2024-07-01', () => ({
      body: { entries: Array.from({ length: CHILDREN }, (_, race) => ({ race })) },
    }));
    for (let race = 0; race < CHILDREN; race += 1)
      fake.route('GET', `/card/2024-07-01/${race}`, () => ({
        body: { runners: [{ race, horse: `h${race}` }] },
      }));
    fake.setLatency(40);
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `racing-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources: [raceCardsResource()],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const second = await r.startReplica('collector', 'second');
    const first = system.services.get('collector')!.process;
    const run = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId: created.body.id, resource: 'cards', params: { date: '2024-07-01' } },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const cards = () => fake.requests.filter((q) => q.path.startsWith('/card/')).length;

    await waitFor(() => cards() >= 30, { timeoutMs: 60_000, message: 'fan-out under way' });
    first.kill('SIGKILL');
    await first.exited;
    await r.start('collector');
    await waitFor(() => cards() >= 80, { timeoutMs: 60_000, message: 'fan-out goes on' });
    second.process.kill('SIGKILL');
    await second.process.exited;
    const killedAt = Date.now();

    const job = await waitFor(
      async () => {
        const [row] = await r.q<{ status: string }>(
          'select status from scheduler.jobs where id = $1',
          [run.body.jobId],
        );
        return row && ['succeeded', 'failed', 'dead'].includes(row.status) ? row : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the collect job final' },
    );
    const tookMs = Date.now() - killedAt;
    assert.equal(job.status, 'succeeded');
    const collection = await system.api<Collection>(`/api/v1/collections/${run.body.jobId}`);
    assert.deepEqual(collection.body.children, { total: CHILDREN, succeeded: CHILDREN, failed: 0 });
    assert.equal(collection.body.documents, CHILDREN);
    await waitFor(async () => (await outboxDepth(system.env.databaseUrl, 'collector')) === 0, {
      message: 'collector outbox relayed',
    });
    assert.ok(tookMs < 60_000, `final ${tookMs} ms after the last kill`);
  });
});
