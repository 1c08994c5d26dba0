import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { boothSample, waitFor, type FakePlatform } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { runPsc, show, startCliSetup, type CliSetup } from '../support/psc.ts';

describe('psc, the command line: keys, scheduler, dead letters and data', () => {
  let setup: CliSetup;
  let fake: FakePlatform;
  let dir: string;
  let env: Record<string, string>;
  const psc = (...args: string[]) => setup.psc(...args);
  const pscJson = <T>(...args: string[]) => setup.pscJson<T>(...args);
  const addPlatform = (overrides?: Record<string, unknown>) => setup.addPlatform(overrides);

  before(async () => {
    setup = await startCliSetup('cli-ops');
    ({ fake, dir, env } = setup);
  });
  after(async () => {
    await setup?.stop();
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
