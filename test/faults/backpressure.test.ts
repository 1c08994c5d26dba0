import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QUEUES } from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { parseExposition, scrapeService, total } from '../support/metrics.ts';
import { startRig, type Rig } from './support/rig.ts';

/** How long the broker refuses publishes in each test. */
const REFUSAL_MS = 30_000;
/** A policy that makes a queue refuse every publish: the publisher's confirm is a nack. */
const REFUSE_ALL = { 'max-length': 0, overflow: 'reject-publish' };

/**
 * RabbitMQ pushing back, on this test's own vhost: a queue policy that refuses publishes (the
 * confirm comes back as a nack) and a connection limit. The tests share one system, in order:
 * each asks for jobs of its own and checks them exactly. The reconciliation is pushed out of
 * reach, so a job the ledger finishes was finished by its worker's own report, not by the
 * ledger reading the worker's records.
 */
describe('faults: RabbitMQ refusing publishes and connections', { timeout: 300_000 }, () => {
  let rig: Rig | undefined;
  before(async () => {
    rig = await startRig({
      name: 'faults-backpressure',
      env: { PSC_RECONCILE_AFTER_MS: '600000' },
    });
  });
  after(async () => {
    await rig?.stop();
    rig = undefined;
  });

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await rig!.q<{ n: string }>(sql, params))[0]?.n);
  const parked = () =>
    count(
      `select (select count(*) from scheduler.outbox_parked)
            + (select count(*) from sync.outbox_parked) as n`,
    );
  const refuseFor = async (since: number) =>
    // Not a sleep as synchronisation: the refusal is the fault, and it lasts this long.
    waitFor(() => Date.now() - since >= REFUSAL_MS, {
      timeoutMs: REFUSAL_MS + 5_000,
      intervalMs: 500,
    });

  it('when the job queue refuses every publish for 30 s under 300 run-now jobs, then run-now still answers 202, the scheduler’s outbox keeps every job command (none parked, its gauges show how many and how old, the log says the broker refused them), and once the policy is lifted every job succeeds once within 60 s', async () => {
    const r = rig!;
    const platform = await r.register({ resources: 20, itemsPer: 20 });
    await r.rabbit.setPolicy('refuse-jobs', `^${QUEUES.syncJobs}$`, REFUSE_ALL, [QUEUES.syncJobs]);
    const refusedAt = Date.now();
    const ids = await r.runAll(platform, 15);
    assert.equal(ids.length, 300);
    await r
      .latest('scheduler')
      .waitForLine(
        (line) => line.includes('outbox publish failed') && line.includes('RabbitMQ refused'),
        20_000,
      )
      .catch((err: unknown) => assert.fail(`the scheduler’s log says why: ${String(err)}`));
    await refuseFor(refusedAt);
    const scheduler = parseExposition(await scrapeService(r.system, 'scheduler'));
    const pending = total(scheduler, 'psc_outbox_pending');
    const oldestAge = total(scheduler, 'psc_outbox_oldest_age_seconds');
    const ran = await count('select count(*) as n from sync.job_runs where job_id = any($1)', [
      ids,
    ]);
    const parkedDuring = await parked();
    await r.rabbit.clearPolicy('refuse-jobs');

    const tookMs = await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.equal(ran, 0, 'no job ran while its queue refused it');
    assert.ok(pending >= ids.length, `psc_outbox_pending showed ${pending} held`);
    // Written right after the policy took effect, 30 s before the scrape (less the run-now calls).
    assert.ok(oldestAge >= 20, `psc_outbox_oldest_age_seconds showed ${oldestAge} s`);
    assert.equal(parkedDuring, 0, 'no job command parked while the broker refused it');
    assert.equal(await parked(), 0);
    assert.equal(await count('select count(*) as n from scheduler.dead_letters'), 0);
    assert.ok(tookMs < 60_000, `final ${tookMs} ms after the policy was lifted`);
  });

  it('when the ledger’s events queue refuses every publish for 30 s while 100 jobs run, then the workers keep each outcome in their outbox (none parked), a failed try whose report is refused is held (no attempt spent, no job dead-lettered), and the ledger records every job succeeded once within 60 s of the policy being lifted', async () => {
    const r = rig!;
    const platform = await r.register({ resources: 20, itemsPer: 20 });
    const events = QUEUES.schedulerJobEvents;
    await r.rabbit.setPolicy('refuse-events', `^${events}$`, REFUSE_ALL, [events]);
    const refusedAt = Date.now();
    // A few tries fail meanwhile: their failure reports (`job.failed`, retrying) are refused too.
    r.fake.failNext(4, { status: 503 });
    const ids = await r.runAll(platform, 5);
    // The workers do the jobs meanwhile; only their reports wait.
    await waitFor(
      async () =>
        (await count('select count(*) as n from sync.job_runs where job_id = any($1)', [ids])) ===
        ids.length,
      { timeoutMs: REFUSAL_MS, intervalMs: 250, message: 'workers done during the refusal' },
    );
    await refuseFor(refusedAt);
    const recorded = await count(
      `select count(*) as n from scheduler.jobs where id = any($1) and status = 'succeeded'`,
      [ids],
    );
    const worker = parseExposition(await scrapeService(r.system, 'sync-worker'));
    const parkedDuring = await parked();
    await r.rabbit.clearPolicy('refuse-events');

    const tookMs = await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.equal(recorded, 0, 'the ledger heard of no outcome while its queue refused them');
    assert.ok(total(worker, 'psc_outbox_pending') >= ids.length, 'the worker’s outbox held them');
    assert.equal(parkedDuring, 0, 'no outcome parked while the broker refused it');
    assert.equal(await parked(), 0);
    assert.equal(await count('select count(*) as n from scheduler.dead_letters'), 0);
    const after = parseExposition(await scrapeService(r.system, 'sync-worker'));
    const jobs = { queue: QUEUES.syncJobs };
    assert.equal(total(after, 'psc_messages_dead_lettered_total', jobs), 0, 'no job given up');
    assert.ok(
      total(after, 'psc_messages_held_total', jobs) >= 4,
      'a try whose failure report was refused is held, not retried or given up',
    );
    assert.ok(tookMs < 60_000, `final ${tookMs} ms after the policy was lifted`);
  });

  it('when the vhost refuses new connections while the sync-worker restarts, then its /ready answers 503 until the limit is lifted, it is ready within 15 s of that, and the jobs asked for meanwhile succeed once', async () => {
    const r = rig!;
    const platform = await r.register({ resources: 4, itemsPer: 20 });
    await r.rabbit.limitConnections(0);
    await r.system.services.get('sync-worker')!.process.stop();
    const ids = await r.runAll(platform, 1);
    const worker = await r.launch('sync-worker');
    await worker.process.waitForLine(/cannot connect to RabbitMQ/, 30_000);
    const limitedAt = Date.now();
    // Asked every 250 ms for 10 s: never ready while it cannot connect.
    const answers = new Set<number>();
    while (Date.now() - limitedAt < 10_000) {
      const res = await fetch(`${worker.url}/ready`).catch(() => undefined);
      answers.add(res?.status ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await r.rabbit.limitConnections(undefined);
    const liftedAt = Date.now();
    await worker.ready;
    const readyMs = Date.now() - liftedAt;

    await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.deepEqual([...answers], [503], '/ready said 503 all along');
    assert.ok(readyMs < 15_000, `ready ${readyMs} ms after the limit was lifted`);
  });

  it('when the scheduler’s RPC queue refuses every request, then run-now answers 503 with the error envelope at once instead of waiting out its 5 s timeout, no job is created, and run-now answers 202 again once the policy is lifted', async () => {
    const r = rig!;
    const platform = await r.register({ resources: 2, itemsPer: 5 });
    const rpcQueue = QUEUES.rpc('scheduler');
    await r.rabbit.setPolicy('refuse-rpc', `^${rpcQueue}$`, REFUSE_ALL, [rpcQueue]);
    const started = Date.now();
    const refused = await r.system.api<{ error?: { code?: string; message?: string } }>(
      '/api/v1/run/sync',
      { body: { platformId: platform.id } },
    );
    const answeredMs = Date.now() - started;
    const created = await count('select count(*) as n from scheduler.jobs where platform_id = $1', [
      platform.id,
    ]);
    await r.rabbit.clearPolicy('refuse-rpc');
    const ids = await waitFor(
      async () => {
        const res = await r.system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
          body: { platformId: platform.id },
        });
        return res.status === 202 ? res.body.jobs.map((j) => j.id) : undefined;
      },
      { timeoutMs: 10_000, message: 'run-now answers 202 again' },
    );

    await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'unavailable');
    assert.match(refused.body.error?.message ?? '', /RabbitMQ refused the request to scheduler/);
    assert.ok(answeredMs < 2_000, `answered after ${answeredMs} ms`);
    assert.equal(created, 0, 'no job created for a refused request');
  });
});
