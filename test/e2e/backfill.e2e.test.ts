import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';

interface BackfillView {
  id: string;
  status: string;
  progress: Record<string, number>;
}
interface JobRow {
  id: string;
  status: string;
  trigger: string;
  run: number;
  params: { date?: string };
  resource: string;
  scheduledFor: string | null;
  backfillId?: string | null;
}

const DAYS = ['20240501', '20240502', '20240503', '20240504', '20240505', '20240506', '20240507'];
const BROKEN_DAY = '20240503';

/**
 * Seed 001's per-date collection as one request: a week backfilled a few days at a time, a day
 * the platform refuses replayed once it is fixed, and the same week asked for again running
 * nothing twice.
 */
describe('backfills through the public API', { timeout: 240_000 }, () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;
  let inFlight = 0;
  let maxInFlight = 0;
  let fixed = false;

  before(async () => {
    platform = await startFakePlatform();
    platform.route('GET', '/races', async (req) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Each answer takes a moment, so runs that were open together overlap at the platform.
      await setTimeout(150);
      // A date not written yyyyMMdd (a wrong template) is refused like a day with no card.
      const unknown =
        (req.query.date === BROKEN_DAY && !fixed) || !/^\d{8}$/.test(req.query.date ?? '');
      const reply = unknown
        ? { status: 404, body: { error: `no card for ${req.query.date}` } }
        : { body: { races: [{ id: `${req.query.date}-1`, date: req.query.date }] } };
      inFlight -= 1;
      return reply;
    });
    // The projection check every second: these platforms (schedules, params, templates) are the
    // registry's and the scheduler's to agree on, so it must never find anything to repair.
    system = await startSystem({
      name: 'backfill',
      env: { PSC_SCHEDULER_TICK_MS: '200', PSC_PLATFORM_CHECK_EVERY_MS: '1000' },
    });
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `races-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: platform.url,
        resources: [
          {
            name: 'races',
            tasks: ['collect'],
            params: ['date'],
            request: { path: '/races', query: { date: '{{date}}' } },
            itemsPath: 'races',
            key: 'id',
            mapping: { id: 'id', date: 'date' },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformId = created.body.id;
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  const backfillOf = (id: string) =>
    system.api<BackfillView>(`/api/v1/backfills/${id}`).then((r) => r.body);
  const jobsOf = async (backfillId: string) =>
    (await system.api<{ items: JobRow[] }>(`/api/v1/jobs?backfillId=${backfillId}&limit=100`)).body
      .items;
  const settled = (id: string, status: string) =>
    waitFor(
      async () => {
        const b = await backfillOf(id);
        return b.status === status ? b : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, message: `backfill ${id} ${status}` },
    );
  const week = {
    resource: 'races',
    taskType: 'collect',
    from: '2024-05-01',
    to: '2024-05-07',
    timezone: 'Asia/Seoul',
    paramsTemplate: { date: '{{date:yyyyMMdd}}' },
    maxConcurrent: 2,
  };

  it('POST /api/v1/backfills: when a week is backfilled two days at a time and one day fails, then each day runs once with its date, the failed day is replayed from the dead-letter queue, and the backfill ends succeeded', async () => {
    const res = await system.api<BackfillView>('/api/v1/backfills', {
      body: { platformId, ...week },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.progress.steps, 7);
    const id = res.body.id;

    const failed = await settled(id, 'failed');
    assert.equal(failed.progress.succeeded, 6);
    assert.equal(failed.progress.failed, 1);
    assert.ok(maxInFlight <= 2, `at most 2 runs at the platform at once, saw ${maxInFlight}`);

    const jobs = await jobsOf(id);
    assert.deepEqual(jobs.map((j) => j.params.date).sort(), DAYS);
    assert.ok(jobs.every((j) => j.trigger === 'backfill' && j.backfillId === id));
    // Each step stands for its day's midnight in Seoul.
    const may3 = jobs.find((j) => j.params.date === BROKEN_DAY)!;
    assert.equal(may3.scheduledFor, '2024-05-02T15:00:00.000Z');
    assert.equal(may3.status, 'failed');

    fixed = true;
    const replay = await system.api<{ replayed: string[] }>(`/api/v1/dlq/${may3.id}/replay`, {
      method: 'POST',
    });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    const done = await settled(id, 'succeeded');
    assert.equal(done.progress.succeeded, 7);
    const after = (await jobsOf(id)).find((j) => j.id === may3.id)!;
    assert.equal(after.run, 2);
    assert.equal(after.status, 'succeeded');
    assert.ok(
      platform.requests.some((r) => r.path === '/races' && r.query.date === BROKEN_DAY),
      'the fixed day was fetched again',
    );
  });

  it('when the same week is backfilled again, then no day runs twice and the new backfill shows and lists the runs it found', async () => {
    const before = platform.requests.length;
    const res = await system.api<BackfillView>('/api/v1/backfills', {
      body: { platformId, ...week },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const again = await settled(res.body.id, 'succeeded');
    assert.equal(again.progress.succeeded, 7);
    // It lists the week's jobs it found, each still the first backfill's.
    const found = await jobsOf(res.body.id);
    assert.equal(new Set(found.map((j) => j.id)).size, 7);
    assert.ok(
      found.every((j) => j.backfillId && j.backfillId !== res.body.id),
      'no run of its own',
    );
    assert.equal(platform.requests.length, before, 'the platform was not asked again');
  });

  it('when days that failed for a wrong template are backfilled again with a mended one, then just those days are fetched again, as their next run with the new dates, out of the dead-letter queue', async () => {
    const wrong = await system.api<BackfillView>('/api/v1/backfills', {
      body: {
        platformId,
        ...week,
        from: '2024-06-01',
        to: '2024-06-03',
        maxConcurrent: 3,
        paramsTemplate: { date: '{{date:yyyy-MM-dd}}' },
      },
    });
    assert.equal(wrong.status, 202, JSON.stringify(wrong.body));
    const failed = await settled(wrong.body.id, 'failed');
    assert.equal(failed.progress.failed, 3);
    const firstRuns = await jobsOf(wrong.body.id);
    const dead = async () =>
      (
        await system.api<{ items: { jobId: string | null }[] }>(
          `/api/v1/dlq?platformId=${platformId}&taskType=collect&limit=100`,
        )
      ).body.items
        .map((d) => d.jobId)
        .filter((id) => firstRuns.some((j) => j.id === id));
    assert.equal((await dead()).length, 3, 'the three failed days are dead letters');

    const mended = await system.api<BackfillView>('/api/v1/backfills', {
      body: { platformId, ...week, from: '2024-06-01', to: '2024-06-02' },
    });
    assert.equal(mended.status, 202, JSON.stringify(mended.body));
    const done = await settled(mended.body.id, 'succeeded');
    assert.equal(done.progress.succeeded, 2);

    const rerun = await jobsOf(mended.body.id);
    assert.deepEqual(rerun.map((j) => [j.run, j.trigger, j.params.date, j.status]).sort(), [
      [2, 'backfill', '20240601', 'succeeded'],
      [2, 'backfill', '20240602', 'succeeded'],
    ]);
    assert.ok(
      rerun.every((j) => firstRuns.some((f) => f.id === j.id)),
      'the same jobs ran again, not new ones',
    );
    for (const date of ['20240601', '20240602'])
      assert.ok(
        platform.requests.some((r) => r.path === '/races' && r.query.date === date),
        `${date} was fetched with the mended template`,
      );
    const left = await dead();
    assert.deepEqual(
      left,
      firstRuns.filter((j) => j.params.date === '2024-06-03').map((j) => j.id),
      'only the day outside the second range stays dead',
    );
    const first = await backfillOf(wrong.body.id);
    assert.equal(first.status, 'failed');
    assert.equal(first.progress.succeeded, 2, 'the first backfill sees its days mended');
  });

  it('when a backfill names a range of more than 1,000 days, a future day or a bad placeholder, then 422 names the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ from: '2020-01-01', to: '2024-01-01' }, 'to'],
      [{ to: '2999-01-01' }, 'to'],
      [{ paramsTemplate: { date: '{{dte}}' } }, 'paramsTemplate.date'],
    ];
    for (const [patch, field] of cases) {
      const res = await system.api<{ error: { details?: unknown } }>('/api/v1/backfills', {
        body: { platformId, ...week, ...patch },
      });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.match(JSON.stringify(res.body.error.details), new RegExp(field.replace('.', '\\.')));
    }
  });

  it('when a collect schedule carries a params template, then each scheduled run gets its own date, and a template that does not render, or gives no value for a param the resource needs, pauses that schedule alone, with the reason, in GET /api/v1/schedules', async () => {
    const resource = (name: string, params: Record<string, unknown>) => ({
      name,
      tasks: ['collect'],
      params: ['date'],
      request: { path: '/races', query: { date: '{{date}}' } },
      itemsPath: 'races',
      key: 'id',
      mapping: { id: 'id', date: 'date' },
      schedule: { collect: { enabled: true, intervalSeconds: 1, timezone: 'Asia/Seoul', params } },
    });
    // The registry checks the template's shape only; the scheduler finds the unknown name.
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `sched-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: platform.url,
        resources: [
          resource('races', { date: '{{date:yyyyMMdd}}' }),
          resource('cards', { date: '{{datum}}' }),
          resource('laps', { from: '{{yesterday}}' }),
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const run = await waitFor(
      async () => {
        const jobs = await system.api<{ items: JobRow[] }>(
          `/api/v1/jobs?platformId=${id}&status=succeeded&limit=5`,
        );
        return jobs.body.items.find((j) => j.trigger === 'schedule');
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'a scheduled collect succeeded' },
    );
    const seoulDay = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'Asia/Seoul',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    })
      .format(new Date(run.scheduledFor!))
      .replaceAll('-', '');
    assert.equal(run.params.date, seoulDay);
    assert.ok(platform.requests.some((r) => r.query.date === seoulDay));

    interface ScheduleRow {
      resource: string;
      taskType: string;
      pausedReason: string | null;
    }
    const schedules = await waitFor(
      async () => {
        const res = await system.api<{ items: ScheduleRow[] }>(
          `/api/v1/schedules?platformId=${id}`,
        );
        const cards = res.body.items.find((s) => s.resource === 'cards');
        return cards?.pausedReason ? res.body.items : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the cards schedule paused itself' },
    );
    const cards = schedules.find((s) => s.resource === 'cards')!;
    assert.match(cards.pausedReason!, /unknown placeholder \{\{datum\}\}/);
    const laps = await waitFor(
      async () => {
        const res = await system.api<{ items: ScheduleRow[] }>(
          `/api/v1/schedules?platformId=${id}`,
        );
        return res.body.items.find((s) => s.resource === 'laps' && s.pausedReason);
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the laps schedule paused itself' },
    );
    assert.match(laps.pausedReason!, /collect run needs params: date; give them in the schedule/);
    const races = schedules.find((s) => s.resource === 'races')!;
    assert.equal(races.pausedReason, null, 'the good schedule keeps running');
    const jobs = await system.api<{ items: JobRow[] }>(`/api/v1/jobs?platformId=${id}&limit=100`);
    assert.ok(
      jobs.body.items.every((j) => j.params.date !== '{{datum}}'),
      'no run was made from the bad template',
    );
    assert.ok(
      jobs.body.items.every((j) => j.resource !== 'laps'),
      'no run was made without its param',
    );
  });

  it('then the scheduler’s check of its platform projection finds it matching the registry, every platform above included, and never repairs anything', async () => {
    const scheduler = system.services.get('scheduler')!.process;
    const from = scheduler.lines().length;
    const listed = (await system.api<{ items: unknown[] }>('/api/v1/platforms?limit=100')).body
      .items.length;
    const clean = await waitFor(
      () =>
        scheduler
          .lines()
          .slice(from)
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as { msg?: string; platforms?: number }];
            } catch {
              return []; // not a log line (a Node warning on stderr)
            }
          })
          .find((l) => l.msg === 'platform projection matches the registry'),
      { timeoutMs: 30_000, message: 'a clean check after the last change' },
    );
    assert.equal(clean.platforms, listed);
    const repairs = scheduler.lines().filter((l) => l.includes('platform projection repaired'));
    assert.deepEqual(repairs, []);
  });
});
