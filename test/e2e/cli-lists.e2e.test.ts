import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { boothSample, waitFor } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { runPsc, show, startPsc, useCliSetup, useStandIns } from '../support/psc.ts';

type Page<T> = { items: T[]; nextCursor: string | null };
type Schedule = { resource: string; taskType: string };

/** The cursor a table's last line offers, or undefined when it offers none. */
const cursorOf = (stdout: string): string | undefined =>
  /\(more: the same with --cursor (\S+)/.exec(stdout)?.[1];

describe('psc lists page alike, waits ride out a gateway restart, a cut-off export fails', () => {
  const setup = useCliSetup('cli-lists');
  const { psc, pscJson } = setup;
  const standIn = useStandIns();

  it('when a list is longer than a page, then its table says how to read on, --json has the nextCursor, and --cursor or --all reads the rest', async () => {
    // Three resources synced and validated daily: six schedules, none due during the test.
    const daily = { enabled: true, intervalSeconds: 86_400 };
    const resource = boothPlatform(setup.fake.url).resources[0]!;
    const name = await setup.addPlatform({
      schedule: { sync: daily, validate: daily },
      resources: ['a', 'b', 'c'].map((r) => ({
        ...resource,
        name: `booths-${r}`,
        tasks: ['sync', 'validate'],
      })),
    });
    await setup.addPlatform();
    await setup.addPlatform();
    // The scheduler's leader writes a new platform's schedules at its next tick.
    await waitFor(
      async () =>
        (await pscJson<Page<Schedule>>('schedules', 'ls', '-p', name)).body.items.length === 6,
      { message: 'the six schedules are listed' },
    );

    const first = await psc('schedules', 'ls', '-p', name, '-n', '4');
    assert.equal(first.code, 0, show(first));
    assert.equal(first.stdout.match(/│ booths-/g)?.length, 4, show(first));
    assert.match(first.stdout, /\(more: the same with --cursor \S+, or every page with --all\)\n$/);
    const rest = await pscJson<Page<Schedule>>(
      'schedules',
      'ls',
      '-p',
      name,
      '-n',
      '4',
      '--cursor',
      cursorOf(first.stdout)!,
    );
    assert.equal(rest.body.items.length, 2);
    assert.equal(rest.body.nextCursor, null);
    const firstJson = await pscJson<Page<Schedule>>('schedules', 'ls', '-p', name, '-n', '4');
    assert.equal(typeof firstJson.body.nextCursor, 'string');
    const key = (s: Schedule) => `${s.resource}/${s.taskType}`;
    const all = await pscJson<Page<Schedule>>('schedules', 'ls', '-p', name, '-n', '2', '--all');
    assert.deepEqual(
      all.body.items.map(key),
      [...firstJson.body.items, ...rest.body.items].map(key),
    );
    assert.equal(all.body.nextCursor, null);
    const allTable = await psc('schedules', 'ls', '-p', name, '-n', '2', '--all');
    assert.equal(allTable.stdout.match(/│ booths-/g)?.length, 6, show(allTable));
    assert.doesNotMatch(allTable.stdout, /\(more/);

    // Platforms: three, one a page.
    const platforms = await pscJson<Page<{ name: string }>>('platforms', 'ls', '-n', '1', '--all');
    assert.equal(platforms.body.items.length, 3);
    const onePlatform = await psc('platforms', 'ls', '-n', '1');
    assert.equal(onePlatform.code, 0, show(onePlatform));
    assert.match(
      onePlatform.stdout,
      /\(more: the same with --cursor \S+, or every page with --all\)/,
    );
    assert.doesNotMatch(onePlatform.stdout, /narrow with/);

    // Jobs, newest first: a sync of the three resources, two a page.
    const queued = await pscJson<{ jobs: { id: string }[] }>('sync', name, 'once', '--no-wait');
    const firstJobs = await psc('jobs', 'ls', '-p', name, '-n', '2');
    assert.equal(firstJobs.code, 0, show(firstJobs));
    assert.match(firstJobs.stdout, /\(more: the same with --cursor \S+\)\n$/);
    const olderJobs = await pscJson<Page<{ id: string }>>(
      'jobs',
      'ls',
      '-p',
      name,
      '-n',
      '2',
      '--cursor',
      cursorOf(firstJobs.stdout)!,
    );
    assert.equal(olderJobs.body.items.length, 1);
    const shown = queued.body.jobs.filter((j) => firstJobs.stdout.includes(j.id));
    assert.equal(shown.length, 2, show(firstJobs));
    assert.ok(!shown.some((j) => j.id === olderJobs.body.items[0]!.id), 'the next page goes on');

    // Every paged list takes -n and --cursor, and says nextCursor in --json (`logs`, which needs
    // the collector, and `collections children` are in cli-monitoring and cli-platforms).
    for (const list of [
      ['jobs', 'ls'],
      ['dlq', 'ls'],
      ['backfill', 'ls'],
      ['keys', 'ls'],
      ['audit'],
      ['platforms', 'ls'],
      ['schedules', 'ls'],
    ]) {
      const page = await pscJson<Page<unknown>>(...list, '-n', '1');
      assert.ok('nextCursor' in page.body, list.join(' '));
      assert.ok(page.body.items.length <= 1, list.join(' '));
    }
  });

  it('when --all would read more than 10,000 rows, then psc stops there and fails with exit 1, printing nothing', async () => {
    // A gateway whose schedules never end.
    let pages = 0;
    const url = await standIn((req, res) => {
      pages++;
      const limit = Number(new URL(req.url!, 'http://x').searchParams.get('limit'));
      const items = Array.from({ length: limit }, (_, i) => ({
        platformId: randomUUID(),
        resource: `r${i}`,
        taskType: 'sync',
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items, nextCursor: `p${pages}` }));
    });
    const run = await runPsc(['schedules', 'ls', '--all'], { ...setup.env, PSC_URL: url });
    assert.equal(run.code, 1, show(run));
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: more than 10,000 schedules: --all reads no more than that\n/);
    assert.match(run.stderr, /Narrow the list with its filters .* -n 500 and --cursor/);
    assert.equal(pages, 21, 'it stopped at the page past the bound');
  });

  it('when `dlq replay --all` matches more than one replay call takes, then psc calls again while the answer says more, and prints every job replayed', async () => {
    // The gateway's side (at most 10,000 per call, oldest first, more: true) is the scheduler's
    // test; here a stand-in answers three calls, the last with more: false.
    const bodies: string[] = [];
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const pages = [ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)];
    const url = await standIn((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${body}`);
        const replayed = pages[bodies.length - 1] ?? [];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ replayed, more: bodies.length < pages.length }));
      });
    });
    const run = await runPsc(['dlq', 'replay', '--all', '--task', 'sync'], {
      ...setup.env,
      PSC_URL: url,
    });
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout, `Replayed 5 job(s).\n${ids.join('\n')}\n`);
    assert.deepEqual(bodies, Array(3).fill('POST /api/v1/dlq/replay {"taskType":"sync"}'));
  });

  it('when an export (records or documents) breaks off mid-stream, then psc says after how many and that the output is incomplete, and exits 3', async () => {
    const platformId = randomUUID();
    const url = await standIn((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"key":"Booth 1"}\n{"key":"Booth 2"}\n{"key":"Booth 3"}\n{"key":"Bo', () =>
        res.socket?.destroy(),
      );
    });
    const run = await runPsc(['data', 'export', platformId, 'booths'], {
      ...setup.env,
      PSC_URL: url,
    });
    assert.equal(run.code, 3, show(run));
    assert.equal(run.stdout, '{"key":"Booth 1"}\n{"key":"Booth 2"}\n{"key":"Booth 3"}\n{"key":"Bo');
    assert.match(
      run.stderr,
      /^error: the export was cut off after 3 records and part of the next \(.+\): the output is incomplete\n/,
    );
    assert.match(run.stderr, /Export again when the gateway answers/);

    // A collection's documents are exported through the same check.
    const documents = await runPsc(['collections', 'export', randomUUID()], {
      ...setup.env,
      PSC_URL: url,
    });
    assert.equal(documents.code, 3, show(documents));
    assert.match(
      documents.stderr,
      /^error: the export was cut off after 3 documents and part of the next \(.+\): the output is incomplete\n/,
    );
  });

  // Last: it restarts this file's gateway.
  it('when the gateway restarts during `jobs watch`, then psc says once that it retries, and follows the job to its end', async () => {
    const path = '/booth/slow-lists';
    setup.fake.setCollection(path, boothSample(30));
    setup.fake.setLatency(1_000, { path });
    const name = await setup.addPlatform({
      resources: [{ ...boothPlatform(setup.fake.url).resources[0]!, request: { path } }],
    });
    const queued = await pscJson<{ jobs: { id: string }[] }>('sync', name, 'once', '--no-wait');
    const jobId = queued.body.jobs[0]!.id;

    const live = startPsc(['jobs', 'watch', jobId], setup.env, { deadlineMs: 40_000 });
    try {
      await waitFor(() => /0\/1 jobs done/.test(live.run.stdout), { timeoutMs: 20_000 });
      const gateway = setup.system.services.get('gateway')!;
      await gateway.process.stop();
      await waitFor(() => /The gateway is unreachable/.test(live.run.stderr), {
        timeoutMs: 10_000,
        message: 'psc says it retries',
      });
      await setup.system.start('gateway', { HTTP_PORT: String(gateway.port) });
      const run = await live.exited;
      assert.equal(run.code, 0, show(run));
      assert.equal(run.stderr.match(/The gateway is unreachable/g)?.length, 1, show(run));
      assert.match(
        run.stderr,
        /^The gateway is unreachable \(.+\); retrying for up to 30 s \(--request-timeout\)\. The job keeps running\.\nThe gateway answers again: watching on\.\n$/,
      );
      assert.match(run.stdout, /1\/1 jobs done/);
      assert.match(run.stdout, new RegExp(`│ ${jobId} │ booths\\s+│ succeeded │ 30 `));
    } finally {
      live.kill('SIGKILL');
    }
  });
});
