import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { boothSample, waitFor } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { runPsc, show, useCliSetup } from '../support/psc.ts';

describe('psc, the command line: keys, scheduler, dead letters, cancelling jobs and data', () => {
  const setup = useCliSetup('cli-ops');
  const { psc, pscJson, addPlatform } = setup;

  it('when a viewer key tries to pause the scheduler, then psc exits 3 with the role to use', async () => {
    const { body: key } = await pscJson<{ key: string; id: string }>(
      'keys',
      'create',
      '--name',
      'cli-viewer',
      '--role',
      'viewer',
    );
    const viewer = { ...setup.env, PSC_API_KEY: key.key };
    const read = await runPsc(['scheduler', 'status'], viewer);
    assert.equal(read.code, 0, show(read));
    const denied = await runPsc(['scheduler', 'pause', '--reason', 'not mine to pause'], viewer);
    assert.equal(denied.code, 3, show(denied));
    assert.match(denied.stderr, /operator/);

    const listed = await pscJson<{ items: { id: string; name: string }[] }>('keys', 'ls');
    assert.ok(listed.body.items.some((k) => k.id === key.id && k.name === 'cli-viewer'));
    assert.doesNotMatch(listed.run.stdout, new RegExp(key.key));
    const table = await psc('keys', 'ls');
    assert.equal(table.code, 0, show(table));
    assert.match(table.stdout, new RegExp(`${key.id} │ cli-viewer\\s+│ viewer`));
    // `list` is `ls` under the name people type first, for every listing.
    const spelledOut = await psc('keys', 'list');
    assert.equal(spelledOut.code, 0, show(spelledOut));
    assert.match(spelledOut.stdout, new RegExp(`${key.id} │ cli-viewer\\s+│ viewer`));
    assert.doesNotMatch(table.stdout, new RegExp(key.key));
    const notAdmin = await runPsc(['keys', 'ls'], viewer);
    assert.equal(notAdmin.code, 3, show(notAdmin));
    assert.match(notAdmin.stderr, /admin for keys/);

    const revoked = await psc('keys', 'revoke', key.id);
    assert.equal(revoked.code, 0, show(revoked));
    assert.match(revoked.stdout, new RegExp(`Revoked key ${key.id}\\.`));
    await waitFor(async () => (await runPsc(['scheduler', 'status'], viewer)).code === 3, {
      message: 'the revoked key is refused',
    });
  });

  it('when a key is created for people, then psc shows it once with a warning, and a key without a role is a usage error', async () => {
    const created = await psc('keys', 'create', '--name', 'cli-operator', '--role', 'operator');
    assert.equal(created.code, 0, show(created));
    const key = /^key:\s+(psc_\S+)$/m.exec(created.stdout)?.[1] ?? '';
    assert.ok(key, show(created));
    assert.match(created.stdout, /role:\s+operator\n/);
    assert.match(created.stdout, /Keep the key now: it is not shown again\./);
    const asOperator = await runPsc(['scheduler', 'status', '--json'], {
      ...setup.env,
      PSC_API_KEY: key,
    });
    assert.equal(asOperator.code, 0, show(asOperator));

    const roleless = await psc('keys', 'create', '--name', 'nobody');
    assert.equal(roleless.code, 2, show(roleless));
    assert.match(roleless.stderr, /required option '--role <role>'/);
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
      assert.match(status.stdout, /jobs:\s+queued \d+, running \d+, retrying \d+, waiting \d+\n/);
      assert.match(
        status.stdout,
        /finished last hour:\s+succeeded \d+, failed \d+, dead \d+, cancelled \d+\n/,
      );
      assert.match(status.stdout, /dead letters:\s+\d+\+?\n/);
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

  it('when the scheduler is stopped and one task type paused with a reason, then `scheduler status` and `scheduler config` show each until resumed', async () => {
    const stopped = await psc('scheduler', 'stop', '--reason', 'planned outage');
    assert.equal(stopped.code, 0, show(stopped));
    assert.match(stopped.stdout, /state:\s+stopped\n/);
    assert.match(stopped.stdout, /reason:\s+planned outage\n/);
    const resumed = await psc('scheduler', 'resume');
    assert.equal(resumed.code, 0, show(resumed));
    assert.match(resumed.stdout, /state:\s+running\n/);

    const table = await psc('scheduler', 'config');
    assert.equal(table.code, 0, show(table));
    assert.match(table.stdout, /task\s+│ enabled\s+│ every\s+│ cron/);
    assert.match(table.stdout, /│ sync\s+│/);
    assert.match(table.stdout, /│ validate\s+│/);

    const paused = await psc(
      'scheduler',
      'config',
      'validate',
      'pause',
      '--reason',
      'no drift checks',
    );
    assert.equal(paused.code, 0, show(paused));
    assert.match(paused.stdout, /│ validate\s+│.*│ no drift checks\s+│/);
    const one = await pscJson<{ taskType: string; pausedReason: string | null }>(
      'scheduler',
      'config',
      'validate',
    );
    assert.deepEqual([one.body.taskType, one.body.pausedReason], ['validate', 'no drift checks']);
    const back = await pscJson<{ pausedReason: string | null }>(
      'scheduler',
      'config',
      'validate',
      'resume',
    );
    assert.equal(back.body.pausedReason, null);

    const wrong = await psc('scheduler', 'config', 'everything');
    assert.equal(wrong.code, 2, show(wrong));
    assert.match(wrong.stderr, /'everything' is invalid for argument 'task'/);
  });

  /** A booth platform whose one resource answers 500 until told otherwise; returns its name. */
  async function flakyPlatform(): Promise<{ name: string; path: string }> {
    const path = `/booth/flaky-${Math.random().toString(36).slice(2, 8)}`;
    setup.fake.setCollection(path, boothSample(5));
    setup.fake.setFault({ status: 500, body: { error: 'boom' } }, { path });
    const name = await addPlatform({
      breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
      resources: [{ ...boothPlatform(setup.fake.url).resources[0]!, request: { path } }],
    });
    return { name, path };
  }

  /** Runs a sync of the platform that dies; returns its job id once `dlq ls` lists it. */
  async function deadJob(name: string, params: Record<string, unknown> = {}): Promise<string> {
    const died = await psc(
      'run',
      'sync',
      '-p',
      name,
      '--params',
      JSON.stringify(params),
      '--wait',
      '--json',
    );
    assert.equal(died.code, 1, show(died));
    const jobId = (JSON.parse(died.stdout) as { jobs: { id: string }[] }).jobs[0]!.id;
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
    return jobId;
  }

  it('when a job died and the platform recovered, then `dlq ls/show` explain it, show its message without the secret in its params, and `dlq replay --params` runs it again to success with the mended params (merged into its own; `[redacted]` refused)', async () => {
    const { name, path } = await flakyPlatform();
    const secret = 'sk-cli-secret-1';
    const jobId = await deadJob(name, { full: true, apiKey: secret });

    const table = await psc('dlq', 'ls', '--platform', name);
    assert.equal(table.code, 0, show(table));
    assert.match(table.stdout, new RegExp(`${jobId}.*│ sync.*upstream_status`));

    const shown = await psc('dlq', 'show', jobId);
    assert.equal(shown.code, 0, show(shown));
    assert.match(shown.stdout, new RegExp(`job:\\s+${jobId}\\n`));
    assert.match(shown.stdout, /reason:\s+upstream_status/);
    assert.match(shown.stdout, /error:\s+upstream_status: /);
    assert.match(shown.stdout, /type:\s+job\.run\n/);
    assert.match(shown.stdout, /headers:\n {2}\{\n {4}"x-psc-dead-reason": "upstream_status/);
    assert.match(shown.stdout, /payload:\n {2}\{\n {4}"type": "job\.run",/);
    assert.match(shown.stdout, /"apiKey": "\[redacted\]"/);
    assert.ok(!shown.stdout.includes(secret), show(shown));

    const { body: letter } = await pscJson<{
      jobId: string;
      replayable: boolean;
      message: { payload: { payload: { jobId: string; params: Record<string, unknown> } } };
    }>('dlq', 'show', jobId);
    assert.equal(letter.replayable, true);
    assert.equal(letter.message.payload.payload.jobId, jobId);
    assert.deepEqual(letter.message.payload.payload.params, { full: true, apiKey: '[redacted]' });

    setup.fake.setFault(null, { path });
    // What `dlq show` printed is not the key: sent back, it is refused and the job stays dead.
    const placeholder = await psc('dlq', 'replay', jobId, '--params', '{"apiKey":"[redacted]"}');
    assert.equal(placeholder.code, 1, show(placeholder));
    assert.match(placeholder.stderr, /\[redacted\], which stands for a secret/);
    assert.match(placeholder.stderr, /"path": "body\.params\.apiKey"/);
    // The key should never have been a param: the replay removes it, and keeps `full`.
    const replayed = await pscJson<{ replayed: string[] }>(
      'dlq',
      'replay',
      jobId,
      '--params',
      '{"apiKey":null}',
    );
    assert.deepEqual(replayed.body.replayed, [jobId]);
    const job = await waitFor(
      async () => {
        const { body } = await pscJson<{
          status: string;
          trigger: string;
          params: Record<string, unknown>;
        }>('jobs', 'show', jobId);
        return body.status === 'succeeded' ? body : undefined;
      },
      { timeoutMs: 30_000, message: 'the replayed job succeeded' },
    );
    assert.equal(job.trigger, 'replay');
    assert.deepEqual(job.params, { full: true });
    const { body: after } = await pscJson<{ items: { jobId: string }[] }>(
      'dlq',
      'ls',
      '--platform',
      name,
    );
    assert.ok(!after.items.some((d) => d.jobId === jobId), 'a replayed job leaves the DLQ');

    const gone = await psc('dlq', 'show', jobId);
    assert.equal(gone.code, 1, show(gone));
    assert.match(gone.stderr, new RegExp(`${jobId} is not in the dead-letter queue`));
    assert.match(gone.stderr, /→ Check the id/);
  });

  it('when dead jobs are forgotten with `dlq rm` and the rest replayed with `dlq replay --all`, then each leaves the queue, and a wrong call exits 1 or 2', async () => {
    const { name, path } = await flakyPlatform();
    const [forget, keep] = [await deadJob(name), await deadJob(name)];

    const removed = await psc('dlq', 'rm', forget);
    assert.equal(removed.code, 0, show(removed));
    assert.match(removed.stdout, new RegExp(`Forgot dead job ${forget}\\.`));
    const again = await psc('dlq', 'rm', forget);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /is not in the dead-letter queue/);

    const neither = await psc('dlq', 'replay');
    assert.equal(neither.code, 2, show(neither));
    assert.match(neither.stderr, /give a job id, or --all/);
    const paramsForAll = await psc('dlq', 'replay', '--all', '--params', '{"full":true}');
    assert.equal(paramsForAll.code, 2, show(paramsForAll));
    assert.match(paramsForAll.stderr, /--params replays one job/);

    setup.fake.setFault(null, { path });
    const all = await psc('dlq', 'replay', '--all', '--platform', name);
    assert.equal(all.code, 0, show(all));
    assert.match(all.stdout, new RegExp(`Replayed 1 job\\(s\\)\\.\\n${keep}\\n`));
    const forgotten = await pscJson<{ status: string; trigger: string }>('jobs', 'show', forget);
    assert.equal(forgotten.body.status, 'dead', 'a forgotten job is not replayed');
    const watched = await psc('jobs', 'watch', keep);
    assert.equal(watched.code, 0, show(watched));
    assert.match(watched.stdout, /succeeded/);
  });

  it('when `sync once --timeout` gives up on a slow job and `jobs cancel` stops it, then each exits 1 saying why, `jobs watch` included, and a second cancel is a conflict', async () => {
    const path = '/booth/slow';
    setup.fake.setCollection(path, boothSample(50));
    setup.fake.setLatency(1_000, { path });
    const name = await addPlatform({
      resources: [{ ...boothPlatform(setup.fake.url).resources[0]!, request: { path } }],
    });
    const waited = await psc('sync', name, 'once', '--timeout', '1');
    assert.equal(waited.code, 1, show(waited));
    assert.match(waited.stderr, /1 job\(s\) still running when the wait ended/);
    const jobId = /psc jobs watch (\S+)`/.exec(waited.stderr)?.[1] ?? '';
    assert.match(waited.stdout, new RegExp(`${jobId} │ booths\\s+│ (queued|running)`));

    const cancel = await psc('jobs', 'cancel', jobId, '--reason', 'wrong day');
    assert.equal(cancel.code, 0, show(cancel));
    assert.match(cancel.stdout, new RegExp(`(Cancelling job|Job) ${jobId}`));
    assert.match(cancel.stdout, new RegExp(`id:\\s+${jobId}\\n`));

    const watched = await psc('jobs', 'watch', jobId);
    assert.equal(watched.code, 1, show(watched));
    assert.match(watched.stdout, /cancelled/);
    assert.match(watched.stderr, /1 of 1 job\(s\) did not succeed/);
    assert.match(watched.stderr, new RegExp(`psc jobs show ${jobId}`));

    const twice = await psc('jobs', 'cancel', jobId);
    assert.equal(twice.code, 1, show(twice));
    assert.match(twice.stderr, /already cancelled/);
    assert.match(twice.stderr, /conflicts with the current state/);
    setup.fake.setLatency(0, { path });
  });

  it('when records are imported from a file and exported again, then the export holds every imported record', async () => {
    const name = await addPlatform();
    const items = boothSample(12);
    const file = join(setup.dir, 'booths.jsonl');
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
