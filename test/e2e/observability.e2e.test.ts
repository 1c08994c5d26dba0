import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';

interface AuditItem {
  id: string;
  at: string;
  actorKeyId: string;
  action: string;
  targetType: string;
  targetId: string;
  details: Record<string, unknown>;
}

interface LogItem {
  service: string;
  level: string;
  platformId: string | null;
  jobId: string | null;
  traceId: string | null;
  message: string;
  fields: Record<string, unknown>;
}

describe('what an on-call engineer reads: audit, logs, trace ids', { timeout: 180_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  let adminKeyId: string;

  before(async () => {
    fake = await startFakePlatform();
    // One service at a time: on a busy machine five starting at once can take over 30 s each.
    system = await startSystem({ name: 'observability', services: ['scheduler'] });
    for (const name of ['platform-registry', 'sync-worker', 'collector', 'gateway'] as const) {
      await system.start(name);
    }
    // The bootstrap admin key from the environment has a fixed id; read it off an audited change.
    const created = await system.api<{ id: string }>('/api/v1/api-keys', {
      body: { name: 'probe', role: 'viewer' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const log = await system.api<{ items: AuditItem[] }>('/api/v1/audit?limit=1');
    adminKeyId = log.body.items[0]!.actorKeyId;
  });
  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  const audit = async () =>
    (await system.api<{ items: AuditItem[] }>('/api/v1/audit?limit=50')).body.items;

  it('POST /api/v1/scheduler/pause: when an operator pauses the scheduler with a reason, then GET /api/v1/audit shows who, when and why, and the resume after it', async () => {
    const startedAt = Date.now();
    const paused = await system.api('/api/v1/scheduler/pause', {
      body: { reason: 'db upgrade' },
    });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const resumed = await system.api('/api/v1/scheduler/resume', { body: {} });
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));

    const items = await audit();
    const pause = items.find((i) => i.action === 'scheduler.pause');
    assert.ok(pause, JSON.stringify(items));
    assert.equal(pause.actorKeyId, adminKeyId);
    assert.equal(pause.targetType, 'scheduler');
    assert.equal(pause.details.reason, 'db upgrade');
    assert.ok(Date.parse(pause.at) >= startedAt - 1_000 && Date.parse(pause.at) <= Date.now());
    const resume = items.find((i) => i.action === 'scheduler.resume');
    assert.ok(resume, 'the resume too');
    assert.ok(items.indexOf(resume) < items.indexOf(pause), 'newest first');
  });

  it('when operators pause 20 task-type configs at once, then each answered action is in the audit log exactly once', async () => {
    // The gateway writes the entries of concurrent requests in one insert (group commit): each
    // request must still find its own entry there when it has its answer.
    const reasons = Array.from({ length: 20 }, (_, i) => `batch-audit-${i}-${Date.now()}`);
    const answers = await Promise.all(
      reasons.map((reason, i) =>
        system.api(`/api/v1/scheduler/config/collect/${i % 2 ? 'pause' : 'resume'}`, {
          body: { reason },
        }),
      ),
    );
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    const items = (await system.api<{ items: AuditItem[] }>('/api/v1/audit?limit=200')).body.items;
    for (const reason of reasons) {
      const matching = items.filter((i) => i.details.reason === reason);
      assert.equal(matching.length, 1, `${reason}: ${JSON.stringify(matching)}`);
      assert.equal(matching[0]!.actorKeyId, adminKeyId);
      assert.equal(matching[0]!.targetId, 'collect');
    }
    await system.api('/api/v1/scheduler/config/collect/resume', { body: { reason: 'tidy' } });
  });

  it('when an operator pauses a task type, cancels a missing job or replays the DLQ, then only what succeeded is audited, with its target', async () => {
    const pause = await system.api('/api/v1/scheduler/config/validate/pause', {
      body: { reason: 'upstream migration' },
    });
    assert.equal(pause.status, 200, JSON.stringify(pause.body));
    const missing = await system.api('/api/v1/jobs/00000000-0000-4000-8000-000000000000/cancel', {
      body: { reason: 'oops' },
    });
    assert.equal(missing.status, 404);
    const replay = await system.api('/api/v1/dlq/replay', {
      body: { taskType: 'sync', reason: 'upstream_status' },
    });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));

    const items = await audit();
    const taskPause = items.find((i) => i.action === 'task-type.pause');
    assert.ok(taskPause, JSON.stringify(items));
    assert.equal(taskPause.targetType, 'task-type');
    assert.equal(taskPause.targetId, 'validate');
    assert.equal(taskPause.details.reason, 'upstream migration');
    assert.ok(!items.some((i) => i.action === 'job.cancel'), 'a refused cancel changed nothing');
    const replayed = items.find((i) => i.action === 'dlq.replay');
    assert.ok(replayed, 'the replay');
    assert.deepEqual(replayed.details, {
      filter: { reason: 'upstream_status', taskType: 'sync' },
    });
  });

  it('GET /api/v1/audit: when narrowed by action (or its first parts) and by key, then only those entries come, newest first; a malformed action is 422', async () => {
    const operator = await system.api<{ id: string; key: string }>('/api/v1/api-keys', {
      body: { name: 'on-call', role: 'operator' },
    });
    assert.equal(operator.status, 201, JSON.stringify(operator.body));
    const asOperator = await system.api('/api/v1/scheduler/config/validate/resume', {
      body: {},
      apiKey: operator.body.key,
    });
    assert.equal(asOperator.status, 200, JSON.stringify(asOperator.body));
    const page = async (query: string) => {
      const res = await system.api<{ items: AuditItem[] }>(`/api/v1/audit?limit=100&${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.items;
    };
    const all = await page('');
    const expect = (keep: (i: AuditItem) => boolean) => all.filter(keep).map((i) => i.id);

    const taskTypes = await page('action=task-type');
    assert.ok(taskTypes.length >= 2, JSON.stringify(all));
    assert.deepEqual(
      taskTypes.map((i) => i.id),
      expect((i) => i.action.startsWith('task-type.')),
    );
    assert.deepEqual(
      (await page('action=task-type.pause')).map((i) => i.id),
      expect((i) => i.action === 'task-type.pause'),
    );
    assert.deepEqual(await page('action=task'), [], 'parts match whole, not as text');
    const byOperator = await page(`actorKeyId=${operator.body.id}`);
    assert.deepEqual(
      byOperator.map((i) => [i.action, i.targetId]),
      [['task-type.resume', 'validate']],
    );
    assert.deepEqual(
      (await page(`actorKeyId=${adminKeyId}&action=api-key`)).map((i) => i.id),
      expect((i) => i.actorKeyId === adminKeyId && i.action.startsWith('api-key.')),
    );
    const bad = await system.api('/api/v1/audit?action=dlq%25');
    assert.equal(bad.status, 422);
  });

  it('GET /api/v1/logs: when the platform-registry warns about a platform, then the warning is there with its service, level and platformId, and secrets stay out', async () => {
    fake.setFault({ status: 503, body: { error: 'maintenance' } }, { path: '/stock' });
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `logs-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        auth: { type: 'bearer', token: 'tok-very-secret-123' },
        resources: [
          {
            name: 'stock',
            request: { path: '/stock' },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code' },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const platformId = created.body.id;
    const tested = await system.api<{ ok: boolean }>(`/api/v1/platforms/${platformId}/test`, {
      body: {},
    });
    assert.equal(tested.status, 200, JSON.stringify(tested.body));
    assert.equal(tested.body.ok, false);

    const entry = await waitFor(
      async () => {
        const res = await system.api<{ items: LogItem[] }>(
          `/api/v1/logs?service=platform-registry&level=warn&platformId=${platformId}`,
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body.items.find((i) => i.message === 'platform connection test failed');
      },
      { timeoutMs: 20_000, message: 'registry warning in /api/v1/logs' },
    );
    assert.equal(entry.service, 'platform-registry');
    assert.equal(entry.level, 'warn');
    assert.equal(entry.platformId, platformId);
    assert.equal(entry.fields.problem, 'status 503');
    assert.doesNotMatch(JSON.stringify(entry), /tok-very-secret-123/);
  });

  it('when tracing is not exported, then a job run now still has a W3C trace id, and its worker log lines in GET /api/v1/logs carry that id', async () => {
    fake.setCollection('/parts', [{ code: 'p1' }, { code: 'p2' }]);
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `trace-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources: [
          {
            name: 'parts',
            request: { path: '/parts' },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code' },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: created.body.id, resource: 'parts' },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const jobId = run.body.jobs[0]!.id;
    const job = await waitFor(
      async () => {
        const j = (
          await system.api<{ status: string; traceId: string | null }>(`/api/v1/jobs/${jobId}`)
        ).body;
        return j.status === 'succeeded' ? j : undefined;
      },
      { timeoutMs: 30_000, message: 'job succeeded' },
    );
    assert.match(job.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(job.traceId, '0'.repeat(32));

    const line = await waitFor(
      async () => {
        const res = await system.api<{ items: LogItem[] }>(
          `/api/v1/logs?jobId=${jobId}&level=info`,
        );
        return res.body.items.find((i) => i.service === 'sync-worker');
      },
      { timeoutMs: 20_000, message: "the worker's line about the job" },
    );
    assert.equal(line.message, 'job succeeded');
    const stats = line.fields.stats as { inserted?: unknown; updated?: unknown };
    assert.equal(typeof stats.inserted, 'number', 'the line carries the job stats');
    assert.equal(typeof stats.updated, 'number');
    assert.equal(line.traceId, job.traceId);
    assert.equal(line.platformId, created.body.id);
  });
});
