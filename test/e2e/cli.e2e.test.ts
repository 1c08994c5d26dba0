import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { boothSample, freePort, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { startSystem, type System } from '../support/system.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PSC_BIN = join(ROOT, 'node_modules/.bin/psc');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `psc` as a user would, through the shim pnpm links into node_modules/.bin (the one
 * `npx psc` finds), with stdout and stderr on pipes: not a TTY.
 */
function runPsc(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(PSC_BIN, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const show = (run: Run): string =>
  `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

describe('psc, the command line, against a running system', () => {
  let system: System;
  let fake: FakePlatform;
  let dir: string;
  /** PSC_URL/PSC_API_KEY of the system, and a config home of this file's own. */
  let env: Record<string, string>;
  const psc = (...args: string[]) => runPsc(args, env);
  const pscJson = async <T>(...args: string[]): Promise<{ run: Run; body: T }> => {
    const run = await psc(...args, '--json');
    assert.equal(run.code, 0, show(run));
    return { run, body: JSON.parse(run.stdout) as T };
  };

  /** Registers a booth platform through `psc platforms add -f`; returns its name. */
  async function addPlatform(overrides: Record<string, unknown> = {}): Promise<string> {
    const definition = boothPlatform(fake.url, overrides);
    const file = join(dir, `${definition.name}.json`);
    writeFileSync(file, JSON.stringify(definition));
    const run = await psc('platforms', 'add', '-f', file);
    assert.equal(run.code, 0, show(run));
    return definition.name;
  }

  before(async () => {
    fake = await startFakePlatform({
      collections: { '/booth/all': boothSample(25), '/booth/flaky': boothSample(5) },
    });
    // One service at a time: on a busy machine five starting at once can each miss the
    // 30 s readiness wait. The collector is not needed here.
    system = await startSystem({
      name: 'cli',
      env: { PSC_RETRY_TIERS_MS: '200,400,800' },
      services: ['platform-registry'],
    });
    for (const name of ['scheduler', 'sync-worker', 'gateway'] as const) await system.start(name);
    dir = mkdtempSync(join(tmpdir(), 'psc-cli-'));
    env = {
      PSC_URL: system.gatewayUrl,
      PSC_API_KEY: system.adminKey,
      XDG_CONFIG_HOME: join(dir, 'config'),
    };
  });

  after(async () => {
    await system?.stop();
    await fake?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

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
    // script(1) gives psc a pseudo-terminal as stdout, as an operator's shell would.
    const command = [PSC_BIN, 'sync', name, 'once'].map((a) => `'${a}'`).join(' ');
    const run = await new Promise<Run>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TERM: 'dumb', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
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
      resources: [{ ...boothPlatform(fake.url).resources[0]!, request: { path: '/booth/none' } }],
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
      [['platforms', 'add', '-f', join(dir, 'absent.json')], /cannot read/],
    ];
    const runs = await Promise.all(cases.map(([args]) => psc(...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      assert.equal(run.code, 2, `${args.join(' ')}\n${show(run)}`);
      assert.match(run.stderr, message, args.join(' '));
    }
    const unconfigured = await runPsc(['platforms', 'ls'], { XDG_CONFIG_HOME: join(dir, 'empty') });
    assert.equal(unconfigured.code, 2, show(unconfigured));
    assert.match(unconfigured.stderr, /psc login/);
  });

  it('when the gateway is unreachable or refuses the key, then psc exits 3 with the reason and what to do', async () => {
    const closed = await runPsc(['platforms', 'ls'], {
      ...env,
      PSC_URL: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(closed.code, 3, show(closed));
    assert.match(closed.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(closed.stderr, /npm start/);

    const badKey = await runPsc(['platforms', 'ls'], { ...env, PSC_API_KEY: 'psc_not_a_key' });
    assert.equal(badKey.code, 3, show(badKey));
    const refusal = await system.api<{ error: { message: string } }>('/api/v1/platforms', {
      apiKey: 'psc_not_a_key',
    });
    // The API's own message, then the way out.
    assert.ok(badKey.stderr.includes(refusal.body.error.message), show(badKey));
    assert.match(badKey.stderr, /psc login/);
    assert.doesNotMatch(badKey.stderr, /psc_not_a_key/);

    const json = await runPsc(['scheduler', 'status', '--json'], {
      ...env,
      PSC_API_KEY: 'psc_not_a_key',
    });
    assert.equal(json.code, 3);
    assert.equal(json.stdout, '');
    assert.equal((JSON.parse(json.stderr) as { exitCode: number }).exitCode, 3);
  });

  it('when a viewer key tries to pause the scheduler, then psc exits 3 with the role to use', async () => {
    const { body: key } = await pscJson<{ key: string; id: string }>(
      'keys',
      'create',
      '--name',
      'cli-viewer',
      '--role',
      'viewer',
    );
    const viewer = { ...env, PSC_API_KEY: key.key };
    const read = await runPsc(['scheduler', 'status'], viewer);
    assert.equal(read.code, 0, show(read));
    const denied = await runPsc(['scheduler', 'pause', '--reason', 'not mine to pause'], viewer);
    assert.equal(denied.code, 3, show(denied));
    assert.match(denied.stderr, /operator/);

    const listed = await pscJson<{ items: { id: string; name: string }[] }>('keys', 'ls');
    assert.ok(listed.body.items.some((k) => k.id === key.id && k.name === 'cli-viewer'));
    assert.doesNotMatch(listed.run.stdout, new RegExp(key.key));
    const revoked = await psc('keys', 'revoke', key.id);
    assert.equal(revoked.code, 0, show(revoked));
    await waitFor(async () => (await runPsc(['scheduler', 'status'], viewer)).code === 3, {
      message: 'the revoked key is refused',
    });
  });

  it('when `psc login` checks a key, then it keeps URL and key in a 0600 file that later commands use', async () => {
    const home = join(dir, 'login-home');
    const bad = await runPsc(['login'], {
      ...env,
      PSC_API_KEY: 'psc_wrong',
      XDG_CONFIG_HOME: home,
    });
    assert.equal(bad.code, 3, show(bad));
    assert.throws(() => statSync(join(home, 'psc', 'config.json')), 'a refused key is not kept');

    const good = await runPsc(['login', '--url', system.gatewayUrl, '--api-key', system.adminKey], {
      XDG_CONFIG_HOME: home,
    });
    assert.equal(good.code, 0, show(good));
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

  it('when the scheduler is paused with a reason, then `scheduler status` shows the reason until it is resumed', async () => {
    const reason = 'upstream migration until 14:00';
    const paused = await psc('scheduler', 'pause', '--reason', reason);
    assert.equal(paused.code, 0, show(paused));
    try {
      const status = await psc('scheduler', 'status');
      assert.equal(status.code, 0, show(status));
      assert.match(status.stdout, /state:\s+paused/);
      assert.match(status.stdout, /reason:\s+upstream migration until 14:00\n/);
      const { body } = await pscJson<{ state: string; reason: string }>('scheduler', 'status');
      assert.deepEqual({ state: body.state, reason: body.reason }, { state: 'paused', reason });
    } finally {
      const resumed = await psc('scheduler', 'resume');
      assert.equal(resumed.code, 0, show(resumed));
    }
    const { body } = await pscJson<{ state: string }>('scheduler', 'status');
    assert.equal(body.state, 'running');

    const config = await pscJson<{ items: { taskType: string; nextFireTimes: string[] }[] }>(
      'scheduler',
      'config',
    );
    assert.ok(
      config.body.items.some((c) => c.taskType === 'sync'),
      config.run.stdout,
    );
  });

  it('when a job died and the platform recovered, then `dlq ls/show` explain it and `dlq replay` runs it again to success', async () => {
    const name = await addPlatform({
      breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
      resources: [{ ...boothPlatform(fake.url).resources[0]!, request: { path: '/booth/flaky' } }],
    });
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/booth/flaky' });
    const died = await psc('sync', name, 'once', '--json');
    assert.equal(died.code, 1, show(died));
    const jobId = (JSON.parse(died.stdout) as { jobs: { id: string; status: string }[] }).jobs[0]!
      .id;

    await waitFor(
      async () => {
        const { body } = await pscJson<{ items: { jobId: string }[] }>(
          'dlq',
          'ls',
          '--platform',
          name,
        );
        return body.items.some((d) => d.jobId === jobId);
      },
      { message: 'the dead job is in `psc dlq ls`' },
    );
    const shown = await psc('dlq', 'show', jobId);
    assert.equal(shown.code, 0, show(shown));
    assert.match(shown.stdout, /reason:/);
    assert.match(shown.stdout, /upstream_status/);

    fake.setFault(null, { path: '/booth/flaky' });
    const replayed = await pscJson<{ replayed: string[] }>('dlq', 'replay', jobId);
    assert.deepEqual(replayed.body.replayed, [jobId]);
    const job = await waitFor(
      async () => {
        const { body } = await pscJson<{ status: string; trigger: string }>('jobs', 'show', jobId);
        return body.status === 'succeeded' ? body : undefined;
      },
      { timeoutMs: 30_000, message: 'the replayed job succeeded' },
    );
    assert.equal(job.trigger, 'replay');
    const { body: after } = await pscJson<{ items: { jobId: string }[] }>(
      'dlq',
      'ls',
      '--platform',
      name,
    );
    assert.ok(!after.items.some((d) => d.jobId === jobId), 'a replayed job leaves the DLQ');
  });

  it('when records are imported from a file and exported again, then the export holds every imported record', async () => {
    const name = await addPlatform();
    const items = boothSample(12);
    const file = join(dir, 'booths.jsonl');
    writeFileSync(file, items.map((i) => JSON.stringify(i)).join('\n') + '\n');

    const imported = await pscJson<{ imported: number; inserted: number; failed: number }>(
      'data',
      'import',
      name,
      'booths',
      file,
    );
    assert.deepEqual(
      {
        imported: imported.body.imported,
        inserted: imported.body.inserted,
        failed: imported.body.failed,
      },
      { imported: 12, inserted: 12, failed: 0 },
    );

    const exported = await psc('data', 'export', name, 'booths');
    assert.equal(exported.code, 0, show(exported));
    const records = exported.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; name: string; allTable: number });
    assert.deepEqual(
      records.map((r) => [r.key, r.allTable]).sort(),
      items.map((i) => [i.boothName, i.boothAllTable]).sort(),
    );

    const csv = await psc('data', 'export', name, 'booths', '--format', 'csv');
    assert.equal(csv.code, 0, show(csv));
    assert.equal(csv.stdout.trimEnd().split('\n').length, 13, 'a header and 12 rows');

    // The same file again: every record is already there, nothing new is inserted.
    const again = await pscJson<{ inserted: number; unchanged: number }>(
      'data',
      'import',
      name,
      'booths',
      file,
    );
    assert.deepEqual(
      { inserted: again.body.inserted, unchanged: again.body.unchanged },
      { inserted: 0, unchanged: 12 },
    );
  });
});
