import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { QUEUES } from '@psc/contracts';
import { closeConsumerChannels, waitFor } from '@psc/testing';
import { consumersDown, readyAgain, startRig, type Rig } from './support/rig.ts';

/**
 * A consumer the broker cancelled is back within 5 s (it subscribes again after 1 s); the jobs
 * asked for meanwhile are done within that and their run.
 */
const RECOVERY_BOUND_MS = 10_000;
/** A consumer whose channel the broker closed consumes again within this (reopened after 1 s). */
const CONSUMER_BACK_MS = 5_000;
/** The services whose `/ready` includes their consumers. */
const CONSUMING = ['scheduler', 'sync-worker', 'collector', 'platform-registry'] as const;

describe('faults: RabbitMQ connections closed, cut, queues deleted', { timeout: 480_000 }, () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  it('when every connection of the vhost is closed five times under 200 jobs, then every job succeeds once and each item is stored exactly once, all final within 60 s of the last close', async () => {
    rig = await startRig({ name: 'faults-conn-close' });
    const r = rig;
    r.fake.setLatency(100);
    const platform = await r.register({ resources: 10, itemsPer: 20 });
    const ids = await r.runAll(platform, 20);
    // Closes spread over the load: after 25, 50, … 125 of the 200 jobs' requests.
    for (let i = 0; i < 5; i += 1) {
      await waitFor(() => r.fake.requests.length >= (i + 1) * 25, {
        timeoutMs: 30_000,
        message: `jobs under way before close ${i + 1}`,
      });
      // Every service is connected again (each has one connection) before the next close.
      await waitFor(async () => (await r.rabbit.connections()).length >= 5, {
        timeoutMs: 30_000,
        message: `every service reconnected before close ${i + 1}`,
      });
      assert.ok((await r.rabbit.closeConnections()) >= 5);
    }
    const tookMs = await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.ok(tookMs < 60_000);
  });

  it('when the sync-worker’s link to RabbitMQ is cut for 27 s mid-load, then its /ready is 503 meanwhile, it is ready again within 15 s of the link’s return, and every job succeeds once', async () => {
    rig = await startRig({ name: 'faults-amqp-cut', amqpViaProxy: ['sync-worker'] });
    const r = rig;
    r.fake.setLatency(50);
    const platform = await r.register({ resources: 5, itemsPer: 20 });
    const ids = await r.runAll(platform, 20);
    await waitFor(() => r.fake.requests.length >= 10, { message: 'jobs under way' });
    const worker = r.system.services.get('sync-worker')!;
    r.amqpProxy.cut();
    const cutAt = Date.now();
    await waitFor(
      async () => (await fetch(`${worker.url}/ready`).catch(() => undefined))?.status === 503,
      { timeoutMs: 20_000, message: 'the worker says it is not ready without RabbitMQ' },
    );
    await waitFor(() => Date.now() - cutAt >= 27_000, { timeoutMs: 35_000, intervalMs: 500 });
    r.amqpProxy.restore();
    const readyMs = await readyAgain(worker.url, 15_000);
    await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.ok(readyMs < 15_000, `ready again in ${readyMs} ms`);
  });

  it('when the broker closes the job consumer’s channel mid-load and then every consumer channel of the vhost, with the connections up (406, as its consumer timeout does), then each service’s /ready is 503 until it consumes again within 5 s, and every job succeeds once', async (t) => {
    rig = await startRig({ name: 'faults-channel-close' });
    const r = rig;
    const { vhost } = r.system.env;
    r.fake.setLatency(100);
    const platform = await r.register({ resources: 5, itemsPer: 20, pageSize: 5 });
    const before = await r.runAll(platform, 4);
    // Deliveries in flight when the channel goes, as with a consumer timeout.
    await waitFor(() => r.fake.requests.length >= 10, { message: 'jobs under way' });
    const worker = r.system.services.get('sync-worker')!;
    // The management API lists a new connection after a stats interval.
    const connection = await waitFor(() => r.rabbit.connectionOf('sync-worker'), {
      timeoutMs: 20_000,
      intervalMs: 500,
      message: 'the sync-worker’s connection listed',
    });

    const workerDown = consumersDown(worker.url, Date.now(), 30_000);
    assert.equal(await closeConsumerChannels(vhost, QUEUES.syncJobs), 1);
    // Asked for right after the close: they run once the job consumer is back.
    const during = await r.runAll(platform, 2);
    const { downMs } = await workerDown;
    assert.equal(
      await r.rabbit.connectionOf('sync-worker'),
      connection,
      'the channel was reopened on the same connection',
    );
    await r.allFinal([...before, ...during], 60_000);

    // Every consumer of every service at once.
    const since = Date.now();
    const downs = CONSUMING.map((name) =>
      consumersDown(r.system.services.get(name)!.url, since, 30_000),
    );
    assert.ok((await closeConsumerChannels(vhost)) >= CONSUMING.length);
    const allDownMs = (await Promise.all(downs)).map((d) => d.downMs);
    const after = await r.runAll(platform, 2);
    const all = [...before, ...during, ...after];
    await r.allFinal(all, 60_000);
    await r.assertExactlyOnce(platform, all);
    t.diagnostic(
      `not consuming for at most: sync-worker.jobs ${downMs} ms, then ${CONSUMING.map((n, i) => `${n} ${allDownMs[i]} ms`).join(', ')}`,
    );
    assert.ok(downMs < CONSUMER_BACK_MS, `the job consumer was down for ${downMs} ms`);
    CONSUMING.forEach((name, i) =>
      assert.ok(
        allDownMs[i]! < CONSUMER_BACK_MS,
        `${name} was not consuming for ${allDownMs[i]} ms`,
      ),
    );
  });

  it('when the job queue is deleted under its consumer, then it is declared and consumed again, the jobs asked for meanwhile are done within 10 s, and every job succeeds once', async () => {
    rig = await startRig({ name: 'faults-queue-deleted' });
    const r = rig;
    const platform = await r.register({ resources: 4, itemsPer: 10 });
    const before = await r.runAll(platform, 1);
    await r.allFinal(before, 30_000);

    await r.rabbit.deleteQueue(QUEUES.syncJobs);
    const deletedAt = Date.now();
    // The jobs asked for right after the deletion can only run once the worker has declared
    // the queue and consumes it again: when they are done, it was back.
    const during = await r.runAll(platform, 2);
    await r.allFinal(during, 30_000);
    const backMs = Date.now() - deletedAt;
    // The management API's figures lag by a stats interval: a sanity check, not the timing.
    await waitFor(async () => (await r.rabbit.consumers(QUEUES.syncJobs)) >= 1, {
      timeoutMs: 20_000,
      intervalMs: 500,
      message: 'the job queue has its consumer again',
    });
    const after = await r.runAll(platform, 2);
    const all = [...before, ...during, ...after];
    await r.allFinal(all, 60_000);
    await r.assertExactlyOnce(platform, all);
    assert.ok(backMs < RECOVERY_BOUND_MS, `jobs asked meanwhile done after ${backMs} ms`);
  });

  it('when the sync-worker restarts with other PSC_RETRY_TIERS_MS against the same broker, then it becomes ready instead of staying “still starting”, and a job that fails once is retried on the new tiers and succeeds', async () => {
    rig = await startRig({ name: 'faults-retry-tiers' });
    const r = rig;
    const platform = await r.register({ resources: 1, itemsPer: 10 });
    const path = `/${platform.resources[0]}`;
    r.fake.failNext(1, { status: 503 }, { path });
    const first = await r.runAll(platform, 1);
    await r.allFinal(first, 30_000);

    await r.system.services.get('sync-worker')!.process.stop();
    const restartedAt = Date.now();
    await r.start('sync-worker', { PSC_RETRY_TIERS_MS: '300,700,1500' });
    const readyMs = Date.now() - restartedAt;

    r.fake.failNext(1, { status: 503 }, { path });
    const second = await r.runAll(platform, 1);
    await r.allFinal(second, 30_000);
    const [job] = await r.q<{ status: string; attempts: number }>(
      'select status, attempts from scheduler.jobs where id = $1',
      [second[0]],
    );
    assert.deepEqual(job, { status: 'succeeded', attempts: 2 });
    assert.ok(readyMs < 60_000, `ready after ${readyMs} ms`);
    await r.assertExactlyOnce(platform, [...first, ...second]);
  });
});
