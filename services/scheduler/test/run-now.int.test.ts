import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobCancel, jobGet, jobList, REDACTED, type PlatformSummary } from '@psc/contracts';
import { AppError } from '@psc/core';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary, runNow } from './support.ts';

describe('job.run-now, job.list and job.cancel', { timeout: 60_000 }, () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  let s: Awaited<ReturnType<typeof startInProcess>>;
  const platforms = [
    platformSummary({
      resources: [
        { name: 'booths', tasks: ['sync'] },
        { name: 'menus', tasks: ['sync', 'validate'] },
      ],
    }),
    platformSummary(),
    platformSummary({ active: false }),
  ];

  before(async () => {
    s = await startInProcess('scheduler-run-now', clock);
    for (const p of platforms) await s.mq.announce(p);
    for (const p of platforms) await s.waitForPlatform(p.id);
  });
  after(async () => {
    await s?.stop();
  });

  it('when a priority-9 run joins a backlog of priority-1 jobs with no worker, then it is consumed first', async () => {
    const backlog = [];
    for (let i = 0; i < 5; i++) {
      const { jobs } = await runNow(s.rpc, {
        taskType: 'sync',
        platformId: platforms[1]!.id,
        resource: 'booths',
        priority: 1,
        params: {},
      });
      backlog.push(...jobs.map((j) => j.id));
    }
    const urgent = await runNow(s.rpc, {
      taskType: 'sync',
      platformId: platforms[1]!.id,
      resource: 'booths',
      params: {},
    });
    await s.outboxDrained();
    const consumed = await s.mq.consumeJobs(1);
    await waitFor(() => consumed.received.length === 6, { message: 'all consumed' });
    await consumed.stop();
    assert.equal(consumed.received[0]?.payload.jobId, urgent.jobs[0]?.id);
    assert.equal(consumed.received[0]?.priority, 9, 'run-now defaults to the highest priority');
    assert.deepEqual(
      consumed.received.slice(1).map((m) => m.payload.jobId),
      backlog,
    );
  });

  it('when run-now params hold a secret-named value, then job.get, job.list and a cancel’s answer mask it and the worker receives it as sent', async () => {
    const params = { apiToken: 'tok-very-secret-42', page: { password: 'hunter2' }, full: true };
    const { jobs } = await runNow(s.rpc, {
      taskType: 'sync',
      platformId: platforms[1]!.id,
      resource: 'booths',
      params,
    });
    const id = jobs[0]!.id;
    const masked = { apiToken: REDACTED, page: { password: REDACTED }, full: true };
    assert.deepEqual((await s.rpc.call(jobGet, { id })).params, masked);
    const listed = await s.rpc.call(jobList, { platformId: platforms[1]!.id, limit: 500 });
    assert.deepEqual(listed.items.find((j) => j.id === id)?.params, masked);
    await s.outboxDrained();
    const consumed = await s.mq.consumeJobs(1);
    await waitFor(() => consumed.received.some((m) => m.payload.jobId === id), {
      message: 'the job consumed',
    });
    await consumed.stop();
    assert.deepEqual(consumed.received.find((m) => m.payload.jobId === id)?.payload.params, params);
    assert.deepEqual((await s.rpc.call(jobCancel, { id })).params, masked);
  });

  it('when many jobs are read at once, then each read answers its own job and an unknown id is 404', async () => {
    const { jobs } = await runNow(s.rpc, { taskType: 'sync', params: {} });
    const ids = jobs.map((j) => j.id);
    const unknown = '00000000-0000-4000-8000-000000000000';
    // Sent in one turn, so the scheduler reads them in shared batches.
    const answers = await Promise.all(
      [...ids, unknown, ...ids].map((id) =>
        s.rpc.call(jobGet, { id }).then(
          (job) => ({ asked: id, id: job.id, target: `${job.platformId}/${job.resource}` }),
          (err: unknown) => ({ asked: id, status: err instanceof AppError ? err.status : 0 }),
        ),
      ),
    );
    assert.deepEqual(answers[ids.length], { asked: unknown, status: 404 });
    const found = answers.filter((a) => a.asked !== unknown);
    assert.deepEqual(
      found.map((a) => ('id' in a ? a.id : undefined)),
      found.map((a) => a.asked),
    );
    const expected = [
      `${platforms[0]!.id}/booths`,
      `${platforms[0]!.id}/menus`,
      `${platforms[1]!.id}/booths`,
    ];
    const targets = found.slice(0, ids.length).map((a) => ('target' in a ? a.target : ''));
    assert.deepEqual([...targets].sort(), [...expected].sort());
  });

  it('when run-now names no platform, then every active platform resource of the task runs', async () => {
    const { jobs } = await runNow(s.rpc, { taskType: 'sync', params: {} });
    assert.equal(jobs.length, 3, 'two resources of the first platform and one of the second');
    const validate = await runNow(s.rpc, { taskType: 'validate', params: {} });
    assert.equal(validate.jobs.length, 1);
  });

  it('when run-now names an inactive platform or an unknown resource, then it is refused', async () => {
    await assert.rejects(
      runNow(s.rpc, { taskType: 'sync', platformId: platforms[2]!.id, params: {} }),
      (err: unknown) => err instanceof AppError && err.status === 409,
    );
    await assert.rejects(
      runNow(s.rpc, {
        taskType: 'sync',
        platformId: platforms[1]!.id,
        resource: 'nope',
        params: {},
      }),
      (err: unknown) => err instanceof AppError && err.status === 404,
    );
  });

  it('when a collect run lacks a param its resource needs, then it is refused (422) naming the param and makes no job; with the param it runs', async () => {
    const platform = platformSummary({
      resources: [
        { name: 'races', tasks: ['collect'], params: ['date', 'meet'] },
        { name: 'booths', tasks: ['sync'] },
      ],
    });
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);

    await assert.rejects(
      runNow(s.rpc, {
        taskType: 'collect',
        platformId: platform.id,
        resource: 'races',
        params: { meet: 'seoul' },
      }),
      (err: unknown) =>
        err instanceof AppError &&
        err.status === 422 &&
        err.message === 'collect run needs params: date' &&
        JSON.stringify(err.details) ===
          JSON.stringify([
            { path: 'body.params.date', message: 'required by collect resource races' },
          ]),
    );
    // Every collect resource of the platform, none named: the same check.
    await assert.rejects(
      runNow(s.rpc, { taskType: 'collect', platformId: platform.id, params: {} }),
      (err: unknown) =>
        err instanceof AppError && err.message === 'collect run needs params: date, meet',
    );
    const { items } = await s.rpc.call(jobList, { platformId: platform.id, limit: 10 });
    assert.deepEqual(items, [], 'no job was made');

    const ran = await runNow(s.rpc, {
      taskType: 'collect',
      platformId: platform.id,
      resource: 'races',
      params: { date: '20300101', meet: 'seoul' },
    });
    assert.equal(ran.jobs.length, 1);
  });

  /** Announces `platform` as the registry would after a change, and waits until it is projected. */
  async function change(platform: PlatformSummary): Promise<void> {
    await s.mq.announce(platform);
    await waitFor(
      async () =>
        (await s.knex
          .withSchema('scheduler')
          .table('platforms')
          .where({ id: platform.id, version: platform.version })
          .first()) !== undefined,
      { message: `version ${platform.version} projected` },
    );
  }

  it('when a platform run a moment ago is deactivated, then the next run-now of it is refused and makes no job, though an earlier batch read it active', async () => {
    const platform = platformSummary();
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
    const request = { taskType: 'sync' as const, platformId: platform.id, params: {} };
    assert.equal((await runNow(s.rpc, request)).jobs.length, 1);

    await change({ ...platform, version: 2, active: false });
    await assert.rejects(
      runNow(s.rpc, request),
      (err: unknown) => err instanceof AppError && err.status === 409,
    );
    const made = await s.knex
      .withSchema('scheduler')
      .table('jobs')
      .where({ platform_id: platform.id });
    assert.equal(made.length, 1, 'only the job of the first run-now');
  });

  it('when a platform run a moment ago changes its resources, then run-now follows the new version: a removed resource is 404, an added one runs once', async () => {
    const platform = platformSummary({ resources: [{ name: 'booths', tasks: ['sync'] }] });
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
    const run = (resource: string) =>
      runNow(s.rpc, { taskType: 'sync', platformId: platform.id, resource, params: {} });
    assert.equal((await run('booths')).jobs.length, 1);

    await change({ ...platform, version: 2, resources: [{ name: 'menus', tasks: ['sync'] }] });
    await assert.rejects(
      run('booths'),
      (err: unknown) => err instanceof AppError && err.status === 404,
    );
    const { jobs } = await run('menus');
    assert.equal(jobs.length, 1);
    const made = await s.knex
      .withSchema('scheduler')
      .table('jobs')
      .where({ platform_id: platform.id });
    // One job per run-now that was answered with one (the test's clock stands still: no order).
    assert.deepEqual(made.map((j: { resource: string }) => j.resource).sort(), ['booths', 'menus']);
  });

  it('when jobs are listed with filters and a cursor, then pages cover each job once', async () => {
    const all = await s.rpc.call(jobList, { platformId: platforms[1]!.id, limit: 500 });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.rpc.call(jobList, {
        platformId: platforms[1]!.id,
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(
      seen,
      all.items.map((j) => j.id),
    );
    assert.ok(all.items.every((j) => j.platformId === platforms[1]!.id));
    const validate = await s.rpc.call(jobList, { taskType: 'validate', limit: 50 });
    assert.ok(validate.items.length === 1 && validate.items[0]!.resource === 'menus');
    await assert.rejects(
      s.rpc.call(jobList, { cursor: 'garbage', limit: 5 }),
      (err: unknown) => err instanceof AppError && err.status === 400,
    );
  });

  it('when jobs are listed since a moment written with an offset (Seoul time, say), then it counts as that instant', async () => {
    const all = await s.rpc.call(jobList, { platformId: platforms[1]!.id, limit: 500 });
    const at = Date.parse(all.items[0]!.createdAt);
    /** `ms` as Seoul's wall clock (+09:00): the same instant. */
    const seoul = (ms: number) =>
      `${new Date(ms + 9 * 3_600_000).toISOString().slice(0, -1)}+09:00`;
    const since = async (when: string) =>
      (await s.rpc.call(jobList, { platformId: platforms[1]!.id, since: when, limit: 500 })).items
        .length;
    assert.equal(await since(seoul(at)), all.items.length, 'made at that instant: all listed');
    assert.equal(await since(seoul(at + 1)), 0, 'a millisecond later: none');
    assert.equal(await since(new Date(at + 1).toISOString()), 0);
  });

  it('when a queued job is cancelled, then it is marked cancelled and a second cancel is a conflict', async () => {
    const { jobs } = await runNow(s.rpc, {
      taskType: 'sync',
      platformId: platforms[1]!.id,
      params: {},
    });
    const cancelled = await s.rpc.call(jobCancel, { id: jobs[0]!.id, reason: 'wrong day' });
    assert.equal(cancelled.status, 'cancelled');
    await assert.rejects(
      s.rpc.call(jobCancel, { id: jobs[0]!.id }),
      (err: unknown) => err instanceof AppError && err.status === 409,
    );
  });
});
