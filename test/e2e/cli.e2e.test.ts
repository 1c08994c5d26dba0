import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { runPsc, show, useCliSetup } from '../support/psc.ts';

describe('psc, the command line: platforms, sync progress and exit codes', () => {
  const setup = useCliSetup('cli');
  const { psc, pscJson, addPlatform } = setup;

  it('when `psc --help` runs from the repository root, then it lists the commands and the exit codes', async () => {
    const run = await runPsc(['--help']);
    assert.equal(run.code, 0, show(run));
    for (const command of [
      'login',
      'sync',
      'platforms',
      'jobs',
      'dlq',
      'scheduler',
      'data',
      'keys',
    ]) {
      assert.match(run.stdout, new RegExp(`\\n  ${command}\\b`), command);
    }
    assert.match(run.stdout, /Exit codes:[\s\S]*3 {2}the gateway is unreachable/);
  });

  it('when a platform is added from a file, then ls and show list it, as tables and as JSON', async () => {
    const name = await addPlatform();

    const table = await psc('platforms', 'ls');
    assert.equal(table.code, 0, show(table));
    assert.match(table.stdout, new RegExp(`${name}.*booths`));

    const { body: page } = await pscJson<{ items: { id: string; name: string }[] }>(
      'platforms',
      'ls',
    );
    const listed = page.items.find((p) => p.name === name);
    assert.ok(listed, JSON.stringify(page));

    const shown = await psc('platforms', 'show', name);
    assert.equal(shown.code, 0, show(shown));
    assert.match(shown.stdout, new RegExp(`id:\\s+${listed.id}`));
    assert.match(shown.stdout, /booths.*\/booth\/all.*boothName/);

    const { body: byId } = await pscJson<{ name: string }>('platforms', 'show', listed.id);
    assert.equal(byId.name, name);
  });

  it('when `sync <platform> once` runs without a terminal, then it prints progress lines of pages and records and the final stats', async () => {
    const name = await addPlatform();
    const run = await psc('sync', name, 'once');
    assert.equal(run.code, 0, show(run));
    const progress = [
      ...run.stdout.matchAll(/^(\S+): (\d+) pages, (\d+) records \((\d)\/1 jobs done\)$/gm),
    ];
    assert.ok(progress.length > 0, show(run));
    assert.ok(
      progress.every((m) => m[1] === name),
      'each progress line names the platform',
    );
    const numbers = progress.map((m) => ({ pages: Number(m[2]), records: Number(m[3]) }));
    for (const [i, now] of numbers.entries()) {
      const before = numbers[i - 1] ?? { pages: 0, records: 0 };
      assert.ok(now.pages >= before.pages && now.records >= before.records, show(run));
    }
    // 25 booths at 10 a page: all 25 records and the one job done at the end. Pages come from
    // the job's progress reports (at most every 250 ms), so the last page may not be counted.
    const last = progress.at(-1)!;
    assert.deepEqual([last[3], last[4]], ['25', '1']);
    assert.ok(Number(last[2]) >= 1 && Number(last[2]) <= 3, show(run));
    // No bar redrawn with carriage returns on a pipe.
    assert.doesNotMatch(run.stdout, /\r/);
    const statsRow = run.stdout.split('\n').find((l) => l.includes('succeeded'));
    assert.ok(statsRow, show(run));
    assert.deepEqual(
      statsRow
        .split('│')
        .map((c) => c.trim())
        .filter(Boolean)
        .slice(1),
      ['booths', 'succeeded', '25', '25', '0', '0', '0'],
    );

    const again = await pscJson<{
      jobs: { status: string; stats: { fetched: number; unchanged: number } }[];
    }>('sync', name, 'once');
    assert.equal(again.body.jobs.length, 1);
    assert.equal(again.body.jobs[0]!.status, 'succeeded');
    assert.deepEqual(
      {
        fetched: again.body.jobs[0]!.stats.fetched,
        unchanged: again.body.jobs[0]!.stats.unchanged,
      },
      { fetched: 25, unchanged: 25 },
    );

    const status = await pscJson<{ lastJob: { status: string } | null; isRunning: boolean }>(
      'sync',
      name,
      'status',
    );
    assert.equal(status.body.lastJob?.status, 'succeeded');
  });

  it('when `sync <platform> once` runs on a terminal, then it draws a progress bar of jobs, pages and records', async () => {
    const name = await addPlatform();
    // A pseudo-terminal as stdout, as an operator's shell has.
    const run = await runPsc(['sync', name, 'once'], setup.env, { tty: true });
    assert.equal(run.code, 0, show(run));
    assert.match(run.stdout, new RegExp(`${name} [█░]+ 1/1 jobs \\| [1-3] pages \\| 25 records`));
    assert.match(run.stdout, /succeeded/);
  });

  it('when `sync <platform> once --no-wait` runs, then it returns the queued job at once and `jobs watch` follows it to the end', async () => {
    const name = await addPlatform();
    const { body } = await pscJson<{ jobs: { id: string }[] }>('sync', name, 'once', '--no-wait');
    assert.equal(body.jobs.length, 1);
    const watched = await psc('jobs', 'watch', body.jobs[0]!.id);
    assert.equal(watched.code, 0, show(watched));
    assert.match(watched.stdout, /: [1-3] pages, 25 records \(1\/1 jobs done\)\n/);
  });

  it('when the job of `sync once` fails, then psc exits 1 with the job error and how to look into it', async () => {
    const name = await addPlatform({
      resources: [
        { ...boothPlatform(setup.fake.url).resources[0]!, request: { path: '/booth/none' } },
      ],
    });
    const run = await psc('sync', name, 'once');
    assert.equal(run.code, 1, show(run));
    assert.match(run.stdout, /failed|dead/);
    assert.match(run.stderr, /1 of 1 job\(s\) did not succeed/);
    assert.match(run.stderr, /psc jobs show [0-9a-f-]{36}/);

    const json = await psc('sync', name, 'once', '--json');
    assert.equal(json.code, 1, show(json));
    const body = JSON.parse(json.stdout) as {
      jobs: { status: string; error: { class: string } }[];
    };
    assert.notEqual(body.jobs[0]!.status, 'succeeded');
    assert.ok(body.jobs[0]!.error.class, json.stdout);
    assert.equal((JSON.parse(json.stderr) as { exitCode: number }).exitCode, 1);
  });

  it('when the command line is wrong, then psc exits 2 and says what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['sync'], /missing required argument 'platform'/],
      [['sync', 'booths', 'explode'], /'explode' is invalid for argument 'action'/],
      [['jobs', 'show', 'not-an-id'], /expected an id/],
      [['scheduler', 'pause'], /required option '--reason <text>'/],
      [['platforms', 'add', '-f', join(setup.dir, 'absent.json')], /cannot read/],
    ];
    const runs = await Promise.all(cases.map(([args]) => psc(...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      assert.equal(run.code, 2, `${args.join(' ')}\n${show(run)}`);
      assert.match(run.stderr, message, args.join(' '));
    }
    const unconfigured = await runPsc(['platforms', 'ls'], {
      XDG_CONFIG_HOME: join(setup.dir, 'empty'),
    });
    assert.equal(unconfigured.code, 2, show(unconfigured));
    assert.match(unconfigured.stderr, /psc login/);
  });

  it('when the gateway is unreachable or refuses the key, then psc exits 3 with the reason and what to do', async () => {
    const closed = await runPsc(['platforms', 'ls'], {
      ...setup.env,
      PSC_URL: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(closed.code, 3, show(closed));
    assert.match(closed.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(closed.stderr, /npm start/);

    const badKey = await runPsc(['platforms', 'ls'], {
      ...setup.env,
      PSC_API_KEY: 'psc_not_a_key',
    });
    assert.equal(badKey.code, 3, show(badKey));
    const refusal = await setup.system.api<{ error: { message: string } }>('/api/v1/platforms', {
      apiKey: 'psc_not_a_key',
    });
    // The API's own message, then the way out.
    assert.ok(badKey.stderr.includes(refusal.body.error.message), show(badKey));
    assert.match(badKey.stderr, /psc login/);
    assert.doesNotMatch(badKey.stderr, /psc_not_a_key/);

    const json = await runPsc(['scheduler', 'status', '--json'], {
      ...setup.env,
      PSC_API_KEY: 'psc_not_a_key',
    });
    assert.equal(json.code, 3);
    assert.equal(json.stdout, '');
    assert.equal((JSON.parse(json.stderr) as { exitCode: number }).exitCode, 3);
  });

  it('when `psc login` checks a key, then it keeps URL and key in a 0600 file that later commands use', async () => {
    const { system } = setup;
    const home = join(setup.dir, 'login-home');
    const bad = await runPsc(['login'], {
      ...setup.env,
      PSC_API_KEY: 'psc_wrong',
      XDG_CONFIG_HOME: home,
    });
    assert.equal(bad.code, 3, show(bad));
    assert.throws(() => statSync(join(home, 'psc', 'config.json')), 'a refused key is not kept');

    const good = await runPsc(['login', '--url', system.gatewayUrl, '--api-key', system.adminKey], {
      XDG_CONFIG_HOME: home,
    });
    assert.equal(good.code, 0, show(good));
    // The key's role says which commands it may run.
    assert.match(good.stdout, /^Logged in to \S+ as key [0-9a-f-]{36} \(admin\); kept in /);
    const file = join(home, 'psc', 'config.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      url: system.gatewayUrl,
      apiKey: system.adminKey,
    });
    // No PSC_URL/PSC_API_KEY now: the stored ones answer.
    const later = await runPsc(['scheduler', 'status', '--json'], { XDG_CONFIG_HOME: home });
    assert.equal(later.code, 0, show(later));
  });
});
