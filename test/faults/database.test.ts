import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { QUEUES } from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { parseExposition, scrapeService, total } from '../support/metrics.ts';
import { readyAgain, startRig, terminateBackends, type Rig } from './support/rig.ts';

/** How long PostgreSQL refuses connections in the outage tests (the operator run's 45 s). */
const OUTAGE_MS = 45_000;

describe('faults: PostgreSQL backends ended and the database away', { timeout: 480_000 }, () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  const outage = async (r: Rig, ms: number) => {
    r.pgProxy.cut();
    const until = Date.now() + ms;
    // Not a sleep as synchronisation: the outage is the fault, and it lasts this long.
    await waitFor(() => Date.now() >= until, { timeoutMs: ms + 5_000, intervalMs: 500 });
    r.pgProxy.restore();
  };

  it('when every backend of the system is terminated six times under 200 jobs, then every job succeeds once and each item is stored exactly once, all final within 60 s of the last termination', async () => {
    rig = await startRig({ name: 'faults-pg-terminate' });
    const r = rig;
    r.fake.setLatency(20);
    const platform = await r.register({ resources: 10, itemsPer: 20 });
    const ids = await r.runAll(platform, 20);
    for (let i = 0; i < 6; i += 1) {
      const seen = r.fake.requests.length;
      await waitFor(() => r.fake.requests.length >= seen + 10, {
        timeoutMs: 30_000,
        message: `jobs under way before termination ${i + 1}`,
      });
      assert.ok((await terminateBackends(r)) > 0, 'backends were ended');
    }
    const tookMs = await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.ok(tookMs < 60_000);
  });

  it('when PostgreSQL refuses every service for 45 s, then /ready is 503 meanwhile, and after it is back every job succeeds once within 60 s', async () => {
    rig = await startRig({
      name: 'faults-pg-down-all',
      dbViaProxy: ['platform-registry', 'scheduler', 'sync-worker', 'collector', 'gateway'],
    });
    const r = rig;
    r.fake.setLatency(50);
    const platform = await r.register({ resources: 5, itemsPer: 20 });
    const ids = await r.runAll(platform, 20);
    await waitFor(() => r.fake.requests.length >= 10, { message: 'jobs under way' });
    const worker = r.system.services.get('sync-worker')!;
    const cut = outage(r, OUTAGE_MS);
    await waitFor(
      async () => (await fetch(`${worker.url}/ready`).catch(() => undefined))?.status === 503,
      { timeoutMs: 20_000, message: 'the worker says it is not ready without its database' },
    );
    await cut;
    const readyMs = await readyAgain(worker.url, 30_000);
    const tookMs = await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.ok(readyMs < 30_000 && tookMs < 60_000, `ready in ${readyMs} ms, final in ${tookMs}`);
  });

  it('when the scheduler alone loses PostgreSQL for 45 s while the workers go on, then no job event is dead-lettered, and every job ends succeeded in the ledger within 30 s of its return', async () => {
    rig = await startRig({ name: 'faults-pg-down-scheduler', dbViaProxy: ['scheduler'] });
    const r = rig;
    r.fake.setLatency(20);
    const platform = await r.register({ resources: 10, itemsPer: 20 });
    const ids = await r.runAll(platform, 20);
    const cut = outage(r, OUTAGE_MS);
    // The workers finish every job while the ledger cannot record it.
    await waitFor(
      async () =>
        Number(
          (
            await r.q<{ n: string }>(
              'select count(*) as n from sync.job_runs where job_id = any($1)',
              [ids],
            )
          )[0]?.n,
        ) === ids.length,
      { timeoutMs: OUTAGE_MS, intervalMs: 250, message: 'workers done during the outage' },
    );
    await cut;
    const tookMs = await r.allFinal(ids, 30_000);
    await r.assertExactlyOnce(platform, ids);
    const parked = await r.q('select 1 from scheduler.dead_letters');
    assert.equal(parked.length, 0, 'no ledger event dead-lettered');
    // The letters table alone could miss a parked event: its consumer records it only after its
    // own hold. The scheduler's counters say that batches were held and none was given up.
    const events = { queue: QUEUES.schedulerJobEvents };
    const metrics = parseExposition(await scrapeService(r.system, 'scheduler'));
    assert.ok(total(metrics, 'psc_messages_held_total', events) > 0, 'event batches were held');
    assert.equal(total(metrics, 'psc_messages_dead_lettered_total', events), 0, 'none given up');
    assert.ok(tookMs < 30_000, `ledger caught up in ${tookMs} ms`);
  });
});
