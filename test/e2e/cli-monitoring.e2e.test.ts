import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boothSample, waitFor } from '@psc/testing';
import { show, useCliSetup } from '../support/psc.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

interface Breaker {
  platformId: string;
  service: string;
  state: string;
}

describe('psc, the command line: status, workers, breakers, logs, audit and webhooks', () => {
  const setup = useCliSetup('cli-monitoring', { collector: true });
  const { psc, pscJson } = setup;

  it('when a sync has run, then `psc status` shows the pipeline with its queues, `psc workers` the sync-worker that ran it, and `psc logs --job` the job’s own line', async () => {
    const name = await setup.addPlatform();
    const ran = await pscJson<{ jobs: { id: string; status: string }[] }>(
      'run',
      'sync',
      '-p',
      name,
      '-r',
      'booths',
      '--wait',
    );
    const jobId = ran.body.jobs[0]!.id;
    assert.equal(ran.body.jobs[0]!.status, 'succeeded');

    const status = await psc('status');
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout, /pipeline:\s+(idle|busy)\n/);
    assert.match(status.stdout, /│ sync-worker\.jobs\s+│ \d+\s+│/);

    const worker = await waitFor(
      async () =>
        (
          await pscJson<{
            items: { service: string; processed: { succeeded: number } }[];
          }>('workers')
        ).body.items.find((w) => w.service === 'sync-worker' && w.processed.succeeded >= 1),
      { message: 'the sync-worker’s heartbeat counts the job', timeoutMs: 20_000 },
    );
    assert.ok(worker);
    const table = await psc('workers');
    assert.match(table.stdout, /│ sync-worker\s+│/);

    const line = await waitFor(
      async () =>
        (
          await pscJson<{ items: { jobId: string; message: string; service: string }[] }>(
            'logs',
            '--job',
            jobId,
          )
        ).body.items.find((e) => e.message === 'job succeeded'),
      { message: 'the job’s outcome line in the log store', timeoutMs: 20_000 },
    );
    assert.equal(line.service, 'sync-worker');
    const warnings = await pscJson<{ items: { level: string }[] }>('logs', '-l', 'warn');
    assert.ok(warnings.body.items.every((e) => e.level !== 'info' && e.level !== 'debug'));
    const badLevel = await psc('logs', '-l', 'loud');
    assert.equal(badLevel.code, 2, show(badLevel));
  });

  it('when a platform’s breaker opens, then `psc breakers ls` shows it open and `psc status` degraded with exit 1; `psc breakers reset` closes it, `psc audit` shows which key reset it, and `psc logs` pages back through the warnings', async () => {
    const path = '/booth/down';
    setup.fake.setCollection(path, boothSample(5));
    setup.fake.setFault({ status: 500, body: { error: 'down' } }, { path });
    const name = await setup.addPlatform({
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 600_000 },
      resources: [
        {
          name: 'booths',
          request: { path },
          itemsPath: 'data',
          key: 'boothName',
          mapping: { name: 'boothName' },
        },
      ],
    });
    const platform = await pscJson<{ id: string }>('platforms', 'show', name);
    const id = platform.body.id;
    const ran = await psc('run', 'sync', '-p', name, '-r', 'booths');
    assert.equal(ran.code, 0, show(ran));

    const stateOf = async () =>
      (await pscJson<{ items: Breaker[] }>('breakers', 'ls', '-p', name)).body.items.find(
        (b) => b.service === 'sync-worker',
      )?.state;
    await waitFor(async () => (await stateOf()) === 'open', {
      message: 'the breaker opened',
      timeoutMs: 20_000,
    });
    const listed = await psc('breakers', 'ls', '-p', name);
    assert.match(listed.stdout, new RegExp(`${id}\\s+│ sync-worker\\s+│ .+│ open\\s+│`));
    const degraded = await waitFor(
      async () => {
        const run = await psc('status');
        return run.code === 1 ? run : undefined;
      },
      { message: 'the pipeline degraded', timeoutMs: 20_000 },
    );
    assert.match(degraded.stdout, /pipeline:\s+degraded/);
    assert.match(degraded.stdout, new RegExp(`open breakers:\\s+${id}`));
    assert.match(degraded.stderr, /the pipeline is degraded/);

    setup.fake.setFault(null, { path });
    const reset = await psc('breakers', 'reset', name);
    assert.equal(reset.code, 0, show(reset));
    assert.match(reset.stdout, new RegExp(`Reset ${name}'s breaker`));
    await waitFor(async () => (await stateOf()) === 'closed', {
      message: 'the breaker closed',
      timeoutMs: 20_000,
    });

    const audit = await pscJson<{
      items: { id: string; action: string; actorKeyId: string; targetId: string }[];
    }>('audit', '--target', id);
    const entry = audit.body.items.find((a) => a.action === 'breaker.reset');
    assert.ok(entry, JSON.stringify(audit.body));
    const me = await pscJson<{ items: { id: string; role: string }[] }>('keys', 'ls');
    assert.ok(
      me.body.items.some((k) => k.id === entry.actorKeyId && k.role === 'admin'),
      'the admin key that ran the reset',
    );
    // The same entry found by what was done and by whom, and nothing else of that action.
    const resets = await pscJson<{ items: { id: string; action: string }[] }>(
      'audit',
      '--action',
      'breaker',
      '--actor',
      entry.actorKeyId,
    );
    assert.ok(resets.body.items.length > 0);
    assert.ok(resets.body.items.every((a) => a.action.startsWith('breaker.')));
    assert.ok(resets.body.items.some((a) => a.id === entry.id));

    // The failures logged warnings: a page of one ends with the cursor of the older ones, which
    // gives the line before it.
    type Page = { items: { id: string; at: string }[]; nextCursor: string | null };
    const one = await waitFor(
      async () => {
        const page = await pscJson<Page>('logs', '-l', 'warn', '-n', '1');
        return page.body.nextCursor ? page : undefined;
      },
      { message: 'two warnings in the log store', timeoutMs: 20_000 },
    );
    const newest = await psc('logs', '-l', 'warn', '-n', '1');
    assert.equal(newest.code, 0, show(newest));
    assert.match(newest.stdout, /\(older lines: the same with --cursor \S+\)/);
    const older = await pscJson<Page>(
      'logs',
      '-l',
      'warn',
      '-n',
      '1',
      '--cursor',
      one.body.nextCursor!,
    );
    assert.equal(older.body.items.length, 1);
    assert.notEqual(older.body.items[0]!.id, one.body.items[0]!.id);
    assert.ok(older.body.items[0]!.at <= one.body.items[0]!.at);
  });

  it('when a webhook is added, tested, disabled and removed through psc, then its secret shows once, the test delivery reaches the receiver and shows in its log, and a wrong event is a usage error', async (t) => {
    const receiver = await startWebhookReceiver();
    t.after(() => receiver.stop());
    const added = await psc(
      'webhooks',
      'add',
      `${receiver.url}/hook`,
      '--event',
      'job.dead',
      'breaker.opened',
      '--description',
      'on-call',
    );
    assert.equal(added.code, 0, show(added));
    assert.match(added.stdout, /events:\s+job\.dead, breaker\.opened/);
    assert.match(added.stdout, /secret:\s+whsec_\S+/);
    const id = /id:\s+(\S+)/.exec(added.stdout)![1]!;

    const listed = await psc('webhooks', 'ls');
    assert.match(listed.stdout, new RegExp(`${id}\\s+│ ${receiver.url}/hook`));
    assert.doesNotMatch(listed.stdout, /whsec_/, 'the secret is shown once only');

    const tested = await psc('webhooks', 'test', id);
    assert.equal(tested.code, 0, show(tested));
    const delivered = await waitFor(
      async () =>
        (
          await pscJson<{ items: { eventType: string; status: string }[] }>(
            'webhooks',
            'deliveries',
            id,
          )
        ).body.items.find((d) => d.eventType === 'webhook.test' && d.status === 'succeeded'),
      { message: 'the test delivery succeeded', timeoutMs: 30_000 },
    );
    assert.ok(delivered);
    assert.equal(receiver.at('/hook').length, 1);
    const log = await psc('webhooks', 'deliveries', id);
    assert.match(log.stdout, /webhook\.test\s+│ succeeded\s+│ 1\s+│ HTTP 204/);

    const disabled = await pscJson<{ enabled: boolean }>('webhooks', 'disable', id);
    assert.equal(disabled.body.enabled, false);
    const removed = await psc('webhooks', 'rm', id);
    assert.equal(removed.code, 0, show(removed));
    const after = await pscJson<{ items: { id: string }[] }>('webhooks', 'ls');
    assert.ok(after.body.items.every((w) => w.id !== id));

    const wrong = await psc('webhooks', 'add', `${receiver.url}/x`, '--event', 'job.lost');
    assert.equal(wrong.code, 2, show(wrong));
    assert.match(wrong.stderr, /job\.lost/);
  });
});
