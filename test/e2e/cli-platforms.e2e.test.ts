import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { boothSample, waitFor } from '@psc/testing';
import { parkOutboxRow } from '../support/parked-outbox.ts';
import { boothPagesResource, boothPlatform } from '../support/platforms.ts';
import { show, useCliSetup } from '../support/psc.ts';

describe('psc, the command line: platforms, their schedules, records, collections, collectors, validation, backfills and the outbox', () => {
  const setup = useCliSetup('cli-platforms', { collector: true });
  const { psc, pscJson } = setup;

  /** Booths that also validate, and a collector resource over the same endpoint. */
  const collectingPlatform = () => {
    const booths = boothPlatform(setup.fake.url).resources[0]!;
    return setup.addPlatform({
      resources: [{ ...booths, tasks: ['sync', 'validate'] }, boothPagesResource()],
    });
  };

  it('when a platform is tested, edited, run and retired through psc, then each step shows in the API', async () => {
    const name = await setup.addPlatform();

    const tested = await psc('platforms', 'test', name);
    assert.equal(tested.code, 0, show(tested));
    assert.match(tested.stdout, /booths\s*│ true\s*│ 200/);

    const edited = await pscJson<{ description: string; version: number }>(
      'platforms',
      'edit',
      name,
      '--set',
      '{"description":"booths of the fair"}',
    );
    assert.equal(edited.body.description, 'booths of the fair');

    const ran = await pscJson<{
      jobs: { id: string; status: string; stats: { fetched: number } }[];
    }>('run', 'sync', '--platform', name, '--resource', 'booths', '--wait');
    assert.equal(ran.body.jobs.length, 1);
    assert.equal(ran.body.jobs[0]!.status, 'succeeded');
    assert.equal(ran.body.jobs[0]!.stats.fetched, 25);

    const listed = await pscJson<{ items: { id: string }[] }>('jobs', 'ls', '--platform', name);
    assert.ok(listed.body.items.some((j) => j.id === ran.body.jobs[0]!.id));
    const table = await psc('jobs', 'ls', '--platform', name, '--status', 'succeeded');
    assert.equal(table.code, 0, show(table));
    assert.ok(table.stdout.includes(ran.body.jobs[0]!.id), show(table));

    const schedules = await psc('schedules', 'ls', '--platform', name);
    assert.equal(schedules.code, 0, show(schedules));
    const backfills = await pscJson<{ items: unknown[] }>('backfill', 'ls', '--platform', name);
    assert.deepEqual(backfills.body.items, []);

    const removed = await psc('platforms', 'rm', name);
    assert.equal(removed.code, 0, show(removed));
    const gone = await psc('platforms', 'show', name);
    assert.equal(gone.code, 1, show(gone));
    assert.match(gone.stderr, new RegExp(`no platform named "${name}"`));
    assert.match(gone.stderr, /psc platforms ls/);
  });

  it('when a platform is changed from a patch file, its schedule stopped and started, its schedules listed by task type, and a broken one tested, then psc shows each and exits 0, 1 or 2 as it should', async () => {
    // Synced and validated daily on its own: nothing runs during the test, but `sync start` has
    // a schedule, and `schedules ls` two of different types.
    const daily = { enabled: true, intervalSeconds: 86_400 };
    const name = await setup.addPlatform({
      schedule: { sync: daily, validate: daily },
      resources: [{ ...boothPlatform(setup.fake.url).resources[0]!, tasks: ['sync', 'validate'] }],
    });
    const patch = join(setup.dir, `${name}-patch.json`);
    writeFileSync(patch, JSON.stringify({ tags: ['fair'] }));
    const edited = await psc('platforms', 'edit', name, '-f', patch);
    assert.equal(edited.code, 0, show(edited));
    assert.match(edited.stdout, new RegExp(`Changed ${name} \\(version 2\\)\\.`));
    assert.match(edited.stdout, /tags:\s+fair\n/);
    const neither = await psc('platforms', 'edit', name);
    assert.equal(neither.code, 2, show(neither));
    assert.match(neither.stderr, /either -f <patch.json> or --set <json>/);
    const refused = await psc('platforms', 'edit', name, '--set', '{"priority":"high"}');
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /priority/);
    assert.match(refused.stderr, /Fix the input named above/);

    const stopped = await psc('sync', name, 'stop', '--reason', 'maintenance window');
    assert.equal(stopped.code, 0, show(stopped));
    assert.match(stopped.stdout, /syncing:\s+stopped\n/);
    const status = await pscJson<{ isRunning: boolean }>('sync', name, 'status');
    assert.equal(status.body.isRunning, false);
    const started = await psc('sync', name, 'start');
    assert.equal(started.code, 0, show(started));
    assert.match(started.stdout, /syncing:\s+on its schedule\n/);
    assert.match(started.stdout, /interval:\s+86400s\n/);

    // The scheduler's leader writes a new resource's schedules at its next tick.
    await waitFor(
      async () =>
        (await pscJson<{ items: unknown[] }>('schedules', 'ls', '--platform', name)).body.items
          .length === 2,
      { message: 'the sync and validate schedules of booths are listed' },
    );
    const schedules = await psc('schedules', 'ls', '--platform', name, '--task-type', 'sync');
    assert.equal(schedules.code, 0, show(schedules));
    assert.match(schedules.stdout, /│ booths\s+│ sync\s+│/);
    assert.doesNotMatch(schedules.stdout, /validate/, 'only the sync schedule');
    const nightly = await psc('schedules', 'ls', '--task-type', 'nightly');
    assert.equal(nightly.code, 2, show(nightly));
    assert.match(nightly.stderr, /sync, validate, collect/);

    const broken = await setup.addPlatform({
      resources: [
        { ...boothPlatform(setup.fake.url).resources[0]!, request: { path: '/booth/none' } },
      ],
    });
    const tested = await psc('platforms', 'test', broken);
    assert.equal(tested.code, 1, show(tested));
    assert.match(tested.stdout, /booths\s*│ false\s*│ 404/);
    assert.match(tested.stderr, /the platform did not answer as expected/);
  });

  it("when a platform with a resource that needs a param is tested, then the other resources are still tested, the missing param is that resource's problem, and --params fills it", async () => {
    const name = await collectingPlatform();

    const tested = await psc('platforms', 'test', name);
    assert.equal(tested.code, 1, show(tested));
    assert.match(tested.stdout, /booths\s*│ true\s*│ 200/);
    assert.match(
      tested.stdout,
      /booth-pages\s*│ false\s*│ -.*missing_param: request needs parameter "day"/,
    );
    assert.match(tested.stderr, /--params/);

    const filled = await pscJson<{ resource: string; ok: boolean; status: number }[]>(
      'platforms',
      'test',
      name,
      '--params',
      '{"day":"2026-01-01"}',
    );
    assert.deepEqual(
      filled.body.map((r) => [r.resource, r.ok, r.status]),
      [
        ['booths', true, 200],
        ['booth-pages', true, 200],
      ],
    );

    const notText = await psc('platforms', 'test', name, '--params', '{"day":1}');
    assert.equal(notText.code, 2, show(notText));
    assert.match(notText.stderr, /"day" must be a string/);

    // A run or a backfill without the param is refused at once, not left to fail in the collector.
    const run = await psc('run', 'collect', '-p', name, '-r', 'booth-pages');
    assert.equal(run.code, 1, show(run));
    assert.match(run.stderr, /collect run needs params: day \(validation_failed\)/);
    assert.match(run.stderr, /body\.params\.day/);
    const backfill = await psc(
      'backfill',
      'create',
      '-p',
      name,
      '-r',
      'booth-pages',
      '-t',
      'collect',
      '--from',
      '2026-01-01',
      '--to',
      '2026-01-02',
    );
    assert.equal(backfill.code, 1, show(backfill));
    assert.match(backfill.stderr, /collect run needs params: day; give each step its value/);
    const jobs = await pscJson<{ items: unknown[] }>('jobs', 'ls', '--platform', name);
    assert.deepEqual(jobs.body.items, [], 'no job was made');
  });

  it('when a collector resource is collected through `collections run` and `run collect` and a synced resource validated with `run validate`, then each ends succeeded, `collections show` lists the documents and `collections children` none (not a fan-out)', async () => {
    const name = await collectingPlatform();

    const queued = await pscJson<{ jobId: string }>(
      'collections',
      'run',
      name,
      'booth-pages',
      '--params',
      '{"day":"2026-01-01"}',
    );
    const waited = await psc(
      'collections',
      'run',
      name,
      'booth-pages',
      '--params',
      '{"day":"2026-01-02"}',
      '--wait',
    );
    assert.equal(waited.code, 0, show(waited));
    assert.match(
      waited.stdout,
      new RegExp(`^${name}/booth-pages: \\d+ pages, \\d+ records \\(1/1 jobs done\\)$`, 'm'),
    );
    assert.match(waited.stdout, /booth-pages\s*│ succeeded/);

    const run = await waitFor(
      async () => {
        const { body } = await pscJson<{ status: string; documents: number }>(
          'collections',
          'show',
          queued.body.jobId,
        );
        return body.status === 'succeeded' ? body : undefined;
      },
      { timeoutMs: 30_000, message: 'the first collection succeeded' },
    );
    assert.ok(run.documents >= 1, JSON.stringify(run));
    const shown = await psc('collections', 'show', queued.body.jobId, '--documents');
    assert.equal(shown.code, 0, show(shown));
    assert.match(shown.stdout, /status:\s+succeeded\n/);
    assert.match(shown.stdout, /params:\s+\{"day":"2026-01-01"\}\n/);
    assert.match(shown.stdout, /│ id\s+│ child\s+│ fetched at/);
    const unknown = await psc('collections', 'show', '0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10');
    assert.equal(unknown.code, 1, show(unknown));
    // Not a fan-out: no children.
    const children = await pscJson<{ items: unknown[]; nextCursor: string | null }>(
      'collections',
      'children',
      queued.body.jobId,
      '--status',
      'failed',
    );
    assert.deepEqual(children.body, { items: [], nextCursor: null });
    const table = await psc('collections', 'children', queued.body.jobId);
    assert.equal(table.code, 0, show(table));
    assert.match(table.stdout, /^\(none\)$/m);
    const noChildren = await psc('collections', 'children', '0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10');
    assert.equal(noChildren.code, 1, show(noChildren));

    const collected = await pscJson<{ jobs: { status: string; taskType: string }[] }>(
      'run',
      'collect',
      '-p',
      name,
      '--params',
      '{"day":"2026-01-03"}',
      '--wait',
    );
    assert.deepEqual(
      collected.body.jobs.map((j) => [j.taskType, j.status]),
      [['collect', 'succeeded']],
    );

    const synced = await psc('run', 'sync', '-p', name, '-r', 'booths', '--wait');
    assert.equal(synced.code, 0, show(synced));
    const validated = await pscJson<{ jobs: { status: string; taskType: string }[] }>(
      'run',
      'validate',
      '-p',
      name,
      '-r',
      'booths',
      '--wait',
    );
    assert.deepEqual(
      validated.body.jobs.map((j) => [j.taskType, j.status]),
      [['validate', 'succeeded']],
    );
  });

  it('when a long backfill is created, shown and cancelled with a reason, then psc shows its progress and the cancel, and a backwards range exits 1 with the API reason', async () => {
    const name = await setup.addPlatform();
    const created = await psc(
      'backfill',
      'create',
      '-p',
      name,
      '-r',
      'booths',
      '--from',
      '2025-01-01',
      '--to',
      '2025-07-01',
      '--max-concurrent',
      '1',
    );
    assert.equal(created.code, 0, show(created));
    assert.match(
      created.stdout,
      /range:\s+2025-01-01T00:00:00(\.000)?Z → 2025-07-01T00:00:00(\.000)?Z by day \(UTC\)\n/,
    );
    // From and to both included: 182 days.
    assert.match(created.stdout, /progress:\s+\d+\/182 succeeded/);
    const id = /^id:\s+(\S+)$/m.exec(created.stdout)?.[1] ?? '';

    const shown = await pscJson<{ id: string; progress: { steps: number } }>(
      'backfill',
      'show',
      id,
    );
    assert.deepEqual([shown.body.id, shown.body.progress.steps], [id, 182]);
    const cancelled = await psc('backfill', 'cancel', id, '--reason', 'enough history');
    assert.equal(cancelled.code, 0, show(cancelled));
    assert.match(cancelled.stdout, /status:\s+cancelled\n/);
    assert.match(cancelled.stdout, /cancel reason:\s+enough history\n/);
    const listed = await psc('backfill', 'ls', '--platform', name);
    assert.match(listed.stdout, new RegExp(`${id}.*│ cancelled`));

    const backwards = await psc(
      'backfill',
      'create',
      '-p',
      name,
      '-r',
      'booths',
      '--from',
      '2025-07-01',
      '--to',
      '2025-01-01',
    );
    assert.equal(backwards.code, 1, show(backwards));
    assert.match(backwards.stderr, /`to` is before `from`/);
    assert.match(backwards.stderr, /Fix the input named above/);
    const missing = await psc('backfill', 'create', '-p', name, '-r', 'booths');
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /required option '--from <date>'/);
  });

  it('when a resource is synced and the platform then changes, then `data ls` pages and filters its records, and `validations ls/show` show the drift with each changed field, missing and extra record', async () => {
    const path = '/booth/drifting';
    setup.fake.setCollection(path, boothSample(5));
    const booths = boothPlatform(setup.fake.url).resources[0]!;
    const name = await setup.addPlatform({
      resources: [{ ...booths, tasks: ['sync', 'validate'], request: { path } }],
    });
    const synced = await psc('run', 'sync', '-p', name, '-r', 'booths', '--wait');
    assert.equal(synced.code, 0, show(synced));

    const page = await psc('data', 'ls', name, 'booths', '-n', '2');
    assert.equal(page.code, 0, show(page));
    assert.match(
      page.stdout,
      /│ key\s+│ name\s+│ allTable\s+│ usageTable\s+│ canUsage\s+│ category\s+│ updated/,
    );
    assert.match(page.stdout, /│ Booth 1\s+│ Booth 1\s+│ 10\s+│ 3\s+│ true\s+│ BOOTH\s+│/);
    assert.doesNotMatch(page.stdout, /Booth 3/);
    const cursor = /\(more: the same with --cursor (\S+)\)/.exec(page.stdout)?.[1];
    assert.ok(cursor, show(page));
    const next = await pscJson<{ items: { key: string }[] }>(
      'data',
      'ls',
      name,
      'booths',
      '-n',
      '2',
      '--cursor',
      cursor,
    );
    assert.deepEqual(
      next.body.items.map((r) => r.key),
      ['Booth 3', 'Booth 4'],
    );
    const where = await pscJson<{ items: { key: string }[]; nextCursor: string | null }>(
      'data',
      'ls',
      name,
      'booths',
      '--where',
      'name=Booth 4',
      '--where',
      'category=BOOTH',
    );
    assert.deepEqual(
      [where.body.items.map((r) => r.key), where.body.nextCursor],
      [['Booth 4'], null],
    );
    const reserved = await psc('data', 'ls', name, 'booths', '--where', 'limit=3');
    assert.equal(reserved.code, 2, show(reserved));
    const unknown = await psc('data', 'ls', name, 'nothing');
    assert.equal(unknown.code, 1, show(unknown));

    // Booth 1 changes, Booth 5 goes away, Booth 6 is new.
    const now = boothSample(6);
    now[0]!.boothAllTable = 99;
    now.splice(4, 1);
    setup.fake.setCollection(path, now);
    const validated = await pscJson<{ jobs: { id: string; status: string }[] }>(
      'run',
      'validate',
      '-p',
      name,
      '-r',
      'booths',
      '--wait',
    );
    const jobId = validated.body.jobs[0]!.id;
    const listed = await psc('validations', 'ls', '-p', name);
    assert.equal(listed.code, 0, show(listed));
    assert.match(
      listed.stdout,
      new RegExp(`│ ${jobId} │ booths\\s+│ \\S+\\s+│ true\\s+│ 5\\s+│ 1\\s+│ 1\\s+│ 1\\s+│`),
    );
    const report = await psc('validations', 'show', jobId);
    assert.equal(report.code, 0, show(report));
    assert.match(report.stdout, /drift:\s+true\n/);
    assert.match(report.stdout, /counts:\s+5 fetched, 1 missing, 1 extra, 1 changed\n/);
    assert.match(report.stdout, /│ Booth 1\s+│ allTable\s+│ 10\s+│ 99\s+│/);
    assert.match(report.stdout, /missing \(on the platform, not stored\):\n[\s\S]*│ Booth 6\s+│/);
    assert.match(report.stdout, /extra \(stored, gone from the platform\):\n[\s\S]*│ Booth 5\s+│/);
    const none = await psc('validations', 'show', '0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10');
    assert.equal(none.code, 1, show(none));
  });

  it("when a collector's documents are exported and its schedule stopped and started, then the export holds every document of the run, and `collectors ls/show` show the stop with its reason until the start", async () => {
    const name = await collectingPlatform();
    const ran = await pscJson<{ jobs: { id: string; status: string }[] }>(
      'collections',
      'run',
      name,
      'booth-pages',
      '--params',
      '{"day":"2026-02-01"}',
      '--wait',
    );
    const jobId = ran.body.jobs[0]!.id;
    const run = await pscJson<{ documents: number }>('collections', 'show', jobId);
    assert.ok(run.body.documents >= 1, JSON.stringify(run.body));

    const exported = await psc('collections', 'export', jobId);
    assert.equal(exported.code, 0, show(exported));
    const lines = exported.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { jobId: string });
    assert.equal(lines.length, run.body.documents);
    assert.ok(lines.every((d) => d.jobId === jobId));
    const lost = await psc('collections', 'export', '0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10');
    assert.equal(lost.code, 1, show(lost));

    const collector = `${name}/booth-pages`;
    const listed = await psc('collectors', 'ls');
    assert.equal(listed.code, 0, show(listed));
    assert.match(listed.stdout, new RegExp(`│ ${collector}\\s+│ day\\s+│ false\\s+│ on\\s+│`));
    const stopped = await psc(
      'collectors',
      'stop',
      name,
      'booth-pages',
      '--reason',
      'source closed',
    );
    assert.equal(stopped.code, 0, show(stopped));
    assert.match(stopped.stdout, /schedule:\s+stopped\n/);
    // By the platform's id as well as its name.
    const { body: platform } = await pscJson<{ id: string }>('platforms', 'show', name);
    const shown = await psc('collectors', 'show', platform.id, 'booth-pages');
    assert.equal(shown.code, 0, show(shown));
    assert.match(shown.stdout, new RegExp(`collector:\\s+${collector}\n`));
    assert.match(shown.stdout, /stopped because:\s+source closed\n/);
    assert.match(shown.stdout, new RegExp(`last run:\\s+${jobId} succeeded`));
    const started = await pscJson<{ enabled: boolean; stoppedReason: string | null }>(
      'collectors',
      'start',
      name,
      'booth-pages',
    );
    assert.deepEqual([started.body.enabled, started.body.stoppedReason], [true, null]);
    const none = await psc('collectors', 'show', name, 'no-such');
    assert.equal(none.code, 1, show(none));
  });

  it('when a service parked an outbox message it could not publish, then `psc outbox` lists it with the reason', async () => {
    await parkOutboxRow(setup.system.env.databaseUrl);
    const table = await psc('outbox');
    assert.equal(table.code, 0, show(table));
    assert.match(
      table.stdout,
      /│ scheduler\s+│ 424242\s+│ job\.run\s+│ job\.run\s+│ c5b0a4ee-6f43-4a39-9d0e-1c2b3a4d5e6f\s+│ no queue is bound to job\.run\s+│ 10\s+│/,
    );
    const json = await pscJson<{
      items: { seq: string; service: string }[];
      unavailable: string[];
    }>('outbox', '-n', '1');
    assert.deepEqual(json.body.unavailable, []);
    assert.ok(json.body.items.some((m) => m.seq === '424242' && m.service === 'scheduler'));
    const wrong = await psc('outbox', '-n', '0');
    assert.equal(wrong.code, 2, show(wrong));
  });
});
