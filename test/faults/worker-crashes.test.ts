import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { startRig, type Rig, type Worker } from './support/rig.ts';

describe('faults: sync-workers killed, crash-looping and frozen', { timeout: 480_000 }, () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  it('when the sync-worker is killed with SIGKILL three times under 300 jobs, then every job succeeds once, each item is stored exactly once, and all are final within 60 s of the last restart', async () => {
    rig = await startRig({ name: 'faults-kill9' });
    const r = rig;
    const { system, fake } = r;
    fake.setLatency(30);
    const platform = await r.register({ resources: 10, itemsPer: 30 });
    const ids = await r.runAll(platform, 30);
    assert.equal(ids.length, 300);

    for (let kill = 0; kill < 3; kill += 1) {
      const seen = fake.requests.length;
      await waitFor(() => fake.requests.length >= seen + 15, {
        timeoutMs: 30_000,
        message: `jobs under way before kill ${kill + 1}`,
      });
      const worker = system.services.get('sync-worker')!.process;
      worker.kill('SIGKILL');
      await worker.exited;
      await r.start('sync-worker');
    }
    const tookMs = await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
    assert.ok(tookMs < 60_000, `recovered in ${tookMs} ms`);
  });

  it('when a job kills its worker every time it runs, then after PSC_CRASH_LOOP_LIMIT (3) deliveries it is dead with reason crash_loop, and the other jobs succeed', async () => {
    rig = await startRig({ name: 'faults-crashloop', env: { PSC_CRASH_LOOP_LIMIT: '3' } });
    const r = rig;
    const { system, fake } = r;
    const platform = await r.register({ resources: 3, itemsPer: 10 });
    // The worker dies while fetching /boom: a process supervisor starts it again each time.
    let kills = 0;
    let restarting: Promise<unknown> = Promise.resolve();
    fake.route('GET', '/boom', () => {
      kills += 1;
      const worker = r.latest('sync-worker');
      worker.kill('SIGKILL');
      // A worker killed while it was still starting fails its start: its own kill restarts it.
      const restart = worker.exited.then(() => r.start('sync-worker'));
      restart.catch(() => undefined);
      restarting = restart;
      return { status: 503 };
    });
    const boom = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `boom-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources: [
          {
            name: 'boom',
            request: { path: '/boom' },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code' },
          },
        ],
      },
    });
    assert.equal(boom.status, 201);
    const poison = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: boom.body.id, resource: 'boom' },
    });
    const poisonId = poison.body.jobs[0]!.id;
    const ids = await r.runAll(platform, 4);

    const job = await waitFor(
      async () => {
        const [row] = await r.q<{ status: string; error: { class: string } }>(
          'select status, error from scheduler.jobs where id = $1',
          [poisonId],
        );
        return row?.status === 'dead' ? row : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, message: 'the crashing job given up' },
    );
    await restarting.catch(() => undefined);
    assert.equal(job.error.class, 'crash_loop');
    assert.equal(kills, 3, 'the worker died exactly PSC_CRASH_LOOP_LIMIT times');
    const dead = await r.q('select 1 from scheduler.dead_letters where job_id = $1', [poisonId]);
    assert.equal(dead.length, 1, 'it is in the dead-letter queue, replayable');
    await r.allFinal(ids, 60_000);
    await r.assertExactlyOnce(platform, ids);
  });

  it('when one of two sync-workers is frozen (SIGSTOP) mid-job holding row locks, then the other worker runs the jobs of the same resource within twice the idle-transaction bound (timeout + 10 s) + 10 s, none counts as a crash, and all end exactly once', async () => {
    rig = await startRig({
      name: 'faults-frozen-worker',
      serviceEnv: { 'sync-worker': { PSC_WORKER_CONCURRENCY: '1', PSC_WORKER_PREFETCH: '1' } },
      env: { PSC_LOCK_TIMEOUT_MS: '1000' },
    });
    const r = rig;
    const { system, fake } = r;
    // Ten pages of 20, 300 ms each: the first job holds the resource's rows for ~3 s.
    const platform = await r.register({
      resources: 1,
      itemsPer: 200,
      pageSize: 20,
      timeoutMs: 1_000,
    });
    const path = `/${platform.resources[0]}`;
    fake.setLatency(300, { path });
    const first = await r.runAll(platform, 1);
    await waitFor(() => fake.requests.filter((q) => q.path === path).length >= 3, {
      timeoutMs: 30_000,
      message: 'the first job is mid-way',
    });
    const b: Worker = await r.startWorker('b', {
      PSC_WORKER_CONCURRENCY: '1',
      PSC_WORKER_PREFETCH: '1',
    });
    const frozen = system.services.get('sync-worker')!.process;
    assert.ok(frozen.kill('SIGSTOP'));
    const frozenAt = Date.now();
    fake.setLatency(0, { path });

    const others = await r.runAll(platform, 4);
    await r.allFinal(others, 60_000);
    // PostgreSQL ends the frozen transaction after timeoutMs + 10 s idle; the held jobs come
    // back within their growing pause (at most as long again), then run.
    const idleBoundMs = 1_000 + 10_000;
    const boundMs = 2 * idleBoundMs + 10_000;
    const tookMs = Date.now() - frozenAt;
    assert.ok(tookMs < boundMs, `the healthy worker was blocked ${tookMs} ms (bound ${boundMs})`);

    frozen.kill('SIGCONT');
    const all = [...first, ...others];
    await r.allFinal(all, 90_000);
    await r.assertExactlyOnce(platform, all);
    const crashLoops = await r.q(
      `select id from scheduler.jobs where id = any($1) and error->>'class' = 'crash_loop'`,
      [all],
    );
    assert.equal(crashLoops.length, 0);
    assert.ok(b.process.pid);
  });
});
