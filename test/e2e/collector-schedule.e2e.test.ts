import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';

interface CollectorView {
  name: string;
  platformId: string;
  resource: string;
  params: string[];
  fanOut: boolean;
  /** Null while the scheduler, which holds the switch, does not answer. */
  enabled: boolean | null;
  running: number;
  lastRun: { jobId: string; status: string } | null;
}
interface JobView {
  id: string;
  status: string;
  trigger: string;
  createdAt: string;
}

const FINAL = ['succeeded', 'failed', 'dead', 'cancelled'];

/** Two collectors of one platform, each scheduled every second. */
function schedulePlatform(baseUrl: string) {
  const resource = (name: string) => ({
    name,
    tasks: ['collect'],
    request: { path: `/${name}` },
    itemsPath: name,
    key: 'id',
    mapping: { id: 'id' },
  });
  return {
    name: `sched-${Math.random().toString(36).slice(2, 8)}`,
    baseUrl,
    schedule: { collect: { enabled: true, intervalSeconds: 1 } },
    resources: [resource('races'), resource('cards')],
  };
}

/**
 * Stopping a collector stops its schedule in the scheduler, which owns it: no scheduled run is
 * made (rather than made and cancelled by the collector), and a stop kept by the collector
 * before the upgrade is handed over on start-up.
 */
describe('collector schedules: stopped and started in the scheduler', { timeout: 180_000 }, () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;
  let name: string;
  let db: pg.Client;

  before(async () => {
    platform = await startFakePlatform();
    platform.route('GET', '/races', () => ({ body: { races: [{ id: 'r1' }] } }));
    platform.route('GET', '/cards', () => ({ body: { cards: [{ id: 'c1' }] } }));
    system = await startSystem({ name: 'collector-schedule' });
    const definition = schedulePlatform(platform.url);
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: definition });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformId = created.body.id;
    name = definition.name;
    db = new pg.Client({ connectionString: system.env.databaseUrl });
    await db.connect();
  });

  after(async () => {
    await db?.end();
    await system?.stop();
    await platform?.stop();
  });

  const collector = (resource: string) =>
    system.api<CollectorView>(`/api/v1/collectors/${name}/${resource}/status`);
  const listed = async () => {
    const { body } = await system.api<{ items: CollectorView[] }>('/api/v1/collectors');
    return Object.fromEntries(
      body.items.filter((c) => c.platformId === platformId).map((c) => [c.resource, c.enabled]),
    );
  };
  /** The collector's scheduled runs created at or after `since`. */
  const scheduled = async (resource: string, since: Date) => {
    const { body } = await system.api<{ items: JobView[] }>(
      `/api/v1/jobs?platformId=${platformId}&resource=${resource}&taskType=collect&since=${since.toISOString()}&limit=200`,
    );
    return body.items.filter((j) => j.trigger === 'schedule');
  };
  const schedulerStops = async () =>
    (
      await db.query<{ resource: string; reason: string | null; stopped_at: Date }>(
        'select resource, reason, stopped_at from scheduler.collect_stops where platform_id = $1 order by resource',
        [platformId],
      )
    ).rows;
  const collectorFlags = async () =>
    (
      await db.query<{ resource: string }>(
        'select resource from collector.collector_settings where platform_id = $1',
        [platformId],
      )
    ).rows;

  /** Waits until the collector has `count` scheduled runs since `since` that succeeded. */
  const succeededRuns = (resource: string, since: Date, count: number) =>
    waitFor(
      async () => {
        const runs = (await scheduled(resource, since)).filter((j) => j.status === 'succeeded');
        return runs.length >= count ? runs : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: `${count} scheduled ${resource} runs` },
    );

  it('when a collector stopped before the upgrade starts on the new version while the scheduler is down, then it works on, lists its collectors without the scheduler’s switch, still skips that collector’s scheduled runs, and once the scheduler is back hands it the stop: it stays stopped, makes no scheduled runs while the other runs, and the collector forgets its flag', async () => {
    await succeededRuns('races', new Date(0), 1);
    await system.services.get('collector')!.process.stop();
    const down = new Date();
    // The scheduler, new already, knows of no stop: it queues a run of each meanwhile. One it
    // queued just before the stop, which the collector had not run (or gave back), is such a run
    // too, and with it open the schedule makes no other (overlap: skip). A run the collector
    // finished as it stopped may look open until its outcome arrives: its run record says not.
    const queuedMeanwhile: string[] = [];
    for (const resource of ['races', 'cards']) {
      const open = await waitFor(
        async () => {
          // The ledger first: a run the collector records after this read is left out below.
          const open = (await scheduled(resource, new Date(0))).filter(
            (j) => !FINAL.includes(j.status),
          );
          const { rows } = await db.query<{ job_id: string }>(
            'select job_id from collector.job_runs where job_id = any($1::uuid[])',
            [open.map((j) => j.id)],
          );
          const runs = open.filter((j) => !rows.some((r) => r.job_id === j.id));
          return runs.length > 0 ? runs : undefined;
        },
        {
          timeoutMs: 30_000,
          message: `a scheduled ${resource} run queued while the collector is down`,
        },
      );
      if (resource === 'races') queuedMeanwhile.push(...open.map((j) => j.id));
    }
    await system.services.get('scheduler')!.process.stop();
    // What the previous version left: races stopped, cards started again (a row saying so).
    await db.query(
      `insert into collector.collector_settings (platform_id, resource, enabled, updated_at)
       values ($1, 'races', false, now()), ($1, 'cards', true, now())`,
      [platformId],
    );
    // Ready without the scheduler: the hand-off waits for it in the background.
    await system.start('collector');
    await waitFor(() => platform.requests.some((r) => r.path === '/cards' && r.at >= +down), {
      timeoutMs: 30_000,
      message: 'the collector runs the cards run meanwhile',
    });
    assert.deepEqual(
      (await collectorFlags()).map((f) => f.resource),
      ['races'],
      'not handed over yet',
    );
    // An operator looking into the outage still sees the collectors, without the switch the
    // scheduler holds.
    const away = await system.api<{ items: CollectorView[] }>('/api/v1/collectors');
    assert.equal(away.status, 200, JSON.stringify(away.body));
    assert.deepEqual(
      away.body.items
        .filter((c) => c.platformId === platformId)
        .map((c) => [c.resource, c.enabled])
        .sort(),
      [
        ['cards', null],
        ['races', null],
      ],
    );
    const cards = await collector('cards');
    assert.equal(cards.status, 200, JSON.stringify(cards.body));
    assert.equal(cards.body.name, `${name}/cards`);
    assert.equal(cards.body.enabled, null);
    assert.equal(cards.body.resource, 'cards');

    await system.start('scheduler');
    const stopped = await waitFor(
      async () => {
        const { status, body } = await collector('races');
        return status === 200 && !body.enabled ? body : undefined;
      },
      { timeoutMs: 45_000, message: 'the stop handed to the scheduler' },
    );
    assert.equal(stopped.name, `${name}/races`);
    const stops = await schedulerStops();
    assert.deepEqual(
      stops.map((s) => s.resource),
      ['races'],
    );
    assert.match(stops[0]?.reason ?? '', /before the upgrade/);
    await waitFor(async () => (await collectorFlags()).length === 0, {
      message: 'the collector forgot its flags',
    });
    assert.deepEqual(await listed(), { races: false, cards: true });

    // The races run queued before the hand-off was skipped, never run.
    const ended = await waitFor(
      async () => {
        const since = await scheduled('races', down);
        const before = await Promise.all(
          queuedMeanwhile
            .filter((id) => !since.some((j) => j.id === id))
            .map(async (id) => (await system.api<JobView>(`/api/v1/jobs/${id}`)).body),
        );
        const runs = [...before, ...since];
        return runs.every((j) => FINAL.includes(j.status)) ? runs : undefined;
      },
      { timeoutMs: 30_000, message: 'the races runs queued meanwhile ended' },
    );
    assert.ok(ended.length > 0, 'a races run was queued while the collector was down');
    assert.deepEqual(
      ended.map((j) => j.status),
      ended.map(() => 'cancelled'),
    );
    // No tick writes a run after the stop, not even one that planned before it.
    const quiet = stops[0]!.stopped_at;
    await succeededRuns('cards', quiet, 3);
    assert.deepEqual(await scheduled('races', quiet), [], 'no scheduled run while stopped');
    assert.deepEqual(
      platform.requests.filter((r) => r.path === '/races' && r.at >= +down),
      [],
      'the stopped collector’s source was not called',
    );
  });

  it('when a collector is stopped, run once and started through the API, then the scheduler holds the switch, status and list show it, once runs, start brings the schedule back, and each action is audited', async () => {
    const stop = await system.api<CollectorView>(`/api/v1/collectors/${name}/cards/stop`, {
      body: { reason: 'vendor outage' },
    });
    assert.equal(stop.status, 200, JSON.stringify(stop.body));
    assert.deepEqual(
      [stop.body.name, stop.body.platformId, stop.body.resource, stop.body.enabled],
      [`${name}/cards`, platformId, 'cards', false],
    );
    const stops = await schedulerStops();
    assert.deepEqual(
      stops.map((s) => s.resource),
      ['cards', 'races'],
    );
    assert.equal(stops[0]?.reason, 'vendor outage');
    assert.deepEqual(await collectorFlags(), [], 'the collector keeps no switch');
    assert.equal((await collector('cards')).body.enabled, false);
    assert.deepEqual(await listed(), { races: false, cards: false });

    const once = await system.api<{ jobId: string }>(`/api/v1/collectors/${name}/races/once`, {
      body: {},
    });
    assert.equal(once.status, 202, JSON.stringify(once.body));
    const ran = await waitFor(
      async () => {
        const { body } = await system.api<JobView>(`/api/v1/jobs/${once.body.jobId}`);
        return FINAL.includes(body.status) ? body : undefined;
      },
      { timeoutMs: 30_000, message: 'the run-now job finished' },
    );
    assert.equal(ran.status, 'succeeded', 'once runs while the collector is stopped');
    assert.equal((await collector('races')).body.lastRun?.jobId, once.body.jobId);

    const start = await system.api<CollectorView>(`/api/v1/collectors/${name}/races/start`, {
      method: 'POST',
    });
    assert.equal(start.status, 200);
    assert.equal(start.body.enabled, true);
    const startedAt = new Date();
    await succeededRuns('races', startedAt, 2);
    assert.deepEqual(await listed(), { races: true, cards: false });
    assert.deepEqual(
      (await schedulerStops()).map((s) => s.resource),
      ['cards'],
    );

    const missing = await system.api(`/api/v1/collectors/${name}/nothing/stop`, { method: 'POST' });
    assert.equal(missing.status, 404);

    // The gateway writes its audit entries after answering, batched: wait for the three.
    const mine = await waitFor(async () => {
      const { body } = await system.api<{
        items: { action: string; details: Record<string, unknown> }[];
      }>('/api/v1/audit?limit=50');
      const entries = body.items.filter((e) => e.action.startsWith('collector.')).reverse();
      return entries.length >= 3 ? entries : undefined;
    });
    assert.deepEqual(
      mine.map((e) => [e.action, e.details.resource, e.details.reason]),
      [
        ['collector.stop', 'cards', 'vendor outage'],
        ['collector.once', 'races', undefined],
        ['collector.start', 'races', undefined],
      ],
    );
  });
});
