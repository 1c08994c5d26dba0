import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { startSystem, type ApiPath, type System } from '../support/system.ts';
import { boothPlatform } from '../support/platforms.ts';

interface ErrorBody {
  error: { code: string; message: string; details?: { path: string }[] };
}
interface TaskConfigView {
  taskType: string;
  enabled: boolean;
  cron: string | null;
  intervalSeconds: number | null;
  nextFireTimes: string[];
}
interface SyncStatus {
  isRunning: boolean;
  syncInterval: number | null;
  apiUrl: string | null;
  lastJob: { id: string } | null;
  nextFireTimes: string[];
  pausedReason?: string | null;
}

const paths = (body: unknown): string[] =>
  ((body as ErrorBody).error.details ?? []).map((d) => d.path);

describe(
  'scheduler API: /api/v1/scheduler and /api/v1/platforms/{id}/sync',
  { timeout: 120_000 },
  () => {
    let system: System;
    let platformId: string;

    before(async () => {
      system = await startSystem({
        name: 'scheduler-api',
        services: ['platform-registry', 'scheduler', 'gateway'],
      });
      const created = await system.api<{ id: string }>('/api/v1/platforms', {
        body: boothPlatform('http://127.0.0.1:9/api'),
      });
      assert.equal(created.status, 201);
      platformId = created.body.id;
    });
    after(async () => {
      await system?.stop();
    });

    it('when a task config is put with a cron and timezone, then GET shows it with the next 5 fire times', async () => {
      const put = await system.api<TaskConfigView>('/api/v1/scheduler/config/sync', {
        method: 'PUT',
        body: { enabled: true, cron: '30 2 * * *', timezone: 'Europe/Berlin' },
      });
      assert.equal(put.status, 200);
      const got = await system.api<TaskConfigView>('/api/v1/scheduler/config/sync');
      assert.equal(got.body.cron, '30 2 * * *');
      assert.equal(got.body.nextFireTimes.length, 5);
      for (const t of got.body.nextFireTimes) {
        const local = new Date(t).toLocaleTimeString('en-GB', { timeZone: 'Europe/Berlin' });
        assert.equal(local, '02:30:00');
      }
      const list = await system.api<{ items: TaskConfigView[] }>('/api/v1/scheduler/config');
      assert.deepEqual(
        list.body.items.map((c) => c.taskType),
        ['sync', 'validate', 'collect'],
      );
      const alias = await system.api<TaskConfigView>('/api/v1/scheduler/config/valid');
      assert.equal(alias.body.taskType, 'validate');
    });

    it('when several task configs are posted, then each is replaced', async () => {
      const posted = await system.api<{ items: TaskConfigView[] }>('/api/v1/scheduler/config', {
        body: { validate: { enabled: true, intervalSeconds: 600 }, collect: { enabled: false } },
      });
      assert.equal(posted.status, 200);
      assert.deepEqual(
        posted.body.items.map((c) => [c.taskType, c.intervalSeconds]),
        [
          ['validate', 600],
          ['collect', 86_400],
        ],
      );
    });

    it('when a config is invalid, then it is a 422 naming the field, and unknown task types are 422 too', async () => {
      const cases: [string, ApiPath, unknown, string][] = [
        ['PUT', '/api/v1/scheduler/config/sync', { cron: '0 0 30 2 *' }, 'body.cron'],
        ['PUT', '/api/v1/scheduler/config/sync', { cron: '* * * * * * *' }, 'body.cron'],
        ['PUT', '/api/v1/scheduler/config/sync', { cron: 'x'.repeat(150) }, 'body.cron'],
        ['PUT', '/api/v1/scheduler/config/sync', { intervalSeconds: 0 }, 'body.intervalSeconds'],
        [
          'PUT',
          '/api/v1/scheduler/config/sync',
          { cron: '0 * * * *', timezone: 'Mars/Base' },
          'body.timezone',
        ],
        ['PUT', '/api/v1/scheduler/config/sync', { priority: 10 }, 'body.priority'],
        ['PUT', '/api/v1/scheduler/config/sync', { bogus: true }, 'body'],
        ['POST', '/api/v1/scheduler/config', { sync: { cron: '0 0 30 2 *' } }, 'body.sync.cron'],
        ['POST', '/api/v1/scheduler/config', { nightly: {} }, 'body'],
        ['PUT', '/api/v1/scheduler/config/nightly', {}, 'params.taskType'],
      ];
      for (const [method, path, body, field] of cases) {
        const res = await system.api(path, { method, body });
        assert.equal(res.status, 422, `${method} ${path} ${JSON.stringify(body)}`);
        assert.equal((res.body as ErrorBody).error.code, 'validation_failed');
        assert.ok(
          paths(res.body).includes(field),
          `${field} in ${JSON.stringify(paths(res.body))}`,
        );
      }
      const unknown = await system.api('/api/v1/scheduler/config/nightly');
      assert.equal(unknown.status, 422);
    });

    it('when the scheduler is paused and resumed with a reason, then status shows state, reason and leader', async () => {
      const paused = await system.api<{ state: string; reason: string }>(
        '/api/v1/scheduler/pause',
        {
          body: { reason: 'upgrade' },
        },
      );
      assert.equal(paused.status, 200);
      assert.deepEqual([paused.body.state, paused.body.reason], ['paused', 'upgrade']);
      const status = await waitFor(
        async () => {
          const s = await system.api<{ state: string; leader: { id: string } | null }>(
            '/api/v1/scheduler',
          );
          return s.body.leader ? s.body : undefined;
        },
        { message: 'a leader' },
      );
      assert.equal(status.state, 'paused');
      const bad = await system.api('/api/v1/scheduler/stop', { body: { reason: 'x'.repeat(501) } });
      assert.equal(bad.status, 422);
      const resumed = await system.api<{ state: string; reason: null }>(
        '/api/v1/scheduler/resume',
        {
          method: 'POST',
        },
      );
      assert.deepEqual([resumed.body.state, resumed.body.reason], ['running', null]);
    });

    it('when a platform sync is stopped, started and run once, then its status follows', async () => {
      await system.api('/api/v1/scheduler/config/sync', {
        method: 'PUT',
        body: { enabled: true, intervalSeconds: 3_600 },
      });
      const running = await waitFor(
        async () => {
          const s = await system.api<SyncStatus>(`/api/v1/platforms/${platformId}/sync/status`);
          return s.status === 200 && s.body.isRunning ? s.body : undefined;
        },
        { message: 'platform known to the scheduler' },
      );
      assert.equal(running.syncInterval, 3_600);
      assert.equal(running.apiUrl, 'http://127.0.0.1:9/api');
      assert.equal(running.nextFireTimes.length, 5);

      const stopped = await system.api<SyncStatus>(`/api/v1/platforms/${platformId}/sync/stop`, {
        body: { reason: 'vendor outage' },
      });
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.isRunning, false);
      assert.equal(stopped.body.pausedReason, 'sync stopped: vendor outage');
      assert.deepEqual(stopped.body.nextFireTimes, []);
      const started = await system.api<SyncStatus>(`/api/v1/platforms/${platformId}/sync/start`, {
        method: 'POST',
      });
      assert.equal(started.body.isRunning, true);

      const once = await system.api<{ jobs: { id: string; status: string }[]; finished: boolean }>(
        `/api/v1/platforms/${platformId}/sync/once`,
        { method: 'POST' },
      );
      assert.equal(once.status, 202, 'no worker runs, so the job is still queued');
      assert.equal(once.body.jobs.length, 1);
      const status = await system.api<SyncStatus>(`/api/v1/platforms/${platformId}/sync/status`);
      assert.equal(status.body.lastJob?.id, once.body.jobs[0]?.id);

      const cancel = await system.api<{ status: string }>(
        `/api/v1/jobs/${once.body.jobs[0]!.id}/cancel`,
        {
          method: 'POST',
        },
      );
      assert.equal(cancel.body.status, 'cancelled');
      const again = await system.api(`/api/v1/jobs/${once.body.jobs[0]!.id}/cancel`, {
        method: 'POST',
      });
      assert.equal(again.status, 409);
      const listed = await system.api<{ items: { id: string }[] }>(
        `/api/v1/jobs?platformId=${platformId}&status=cancelled`,
      );
      assert.ok(listed.body.items.some((j) => j.id === once.body.jobs[0]!.id));
    });

    it('when schedules are listed by task type, then only that type’s come back, page by page, with or without a platform, and an unknown type is a 422 naming it', async () => {
      const daily = { enabled: true, intervalSeconds: 86_400 };
      const booths = boothPlatform('http://127.0.0.1:9/api').resources[0]!;
      const collect = (name: string) => ({ ...booths, name, tasks: ['collect'] });
      const created = await system.api<{ id: string }>('/api/v1/platforms', {
        body: boothPlatform('http://127.0.0.1:9/api', {
          schedule: { sync: daily, validate: daily, collect: daily },
          resources: [{ ...booths, tasks: ['sync', 'validate'] }, collect('b'), collect('a')],
        }),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      interface ScheduleView {
        platformId: string;
        resource: string;
        taskType: string;
      }
      const list = (query: string) =>
        system.api<{ items: ScheduleView[]; nextCursor: string | null }>(
          `/api/v1/schedules?${query}`,
        );
      const mine = (items: ScheduleView[]) =>
        items.filter((s) => s.platformId === id).map((s) => `${s.resource} ${s.taskType}`);
      await waitFor(async () => (await list(`platformId=${id}`)).body.items.length === 4, {
        message: 'the leader wrote the platform’s four schedules',
      });

      // One a page: the collect schedules in key order, and nothing after the last.
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const after: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const res = await list(`platformId=${id}&taskType=collect&limit=1${after}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        pages.push(mine(res.body.items));
        cursor = res.body.nextCursor;
      } while (cursor && pages.length < 5);
      assert.deepEqual(pages, [['a collect'], ['b collect']]);

      // Without a platform: every platform's schedules of that type, and of no other.
      for (const [taskType, expected] of [
        ['sync', ['booths sync']],
        ['valid', ['booths validate']],
        ['collect', ['a collect', 'b collect']],
      ] as const) {
        const res = await list(`taskType=${taskType}&limit=500`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const type = taskType === 'valid' ? 'validate' : taskType;
        assert.deepEqual(
          res.body.items.filter((s) => s.taskType !== type),
          [],
          `only ${type} schedules`,
        );
        assert.deepEqual(mine(res.body.items), expected);
      }

      const bad = await system.api('/api/v1/schedules?taskType=nightly');
      assert.equal(bad.status, 422);
      assert.equal((bad.body as ErrorBody).error.code, 'validation_failed');
      assert.deepEqual(paths(bad.body), ['query.taskType']);
    });

    it('when the platform id is unknown or malformed, then the control routes answer 404 and 422', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      for (const [method, path] of [
        ['GET', `/api/v1/platforms/${unknown}/sync/status`],
        ['POST', `/api/v1/platforms/${unknown}/sync/stop`],
        ['POST', `/api/v1/platforms/${unknown}/sync/start`],
        ['POST', `/api/v1/platforms/${unknown}/sync/once`],
      ] as const) {
        const res = await system.api(path, { method });
        assert.equal(res.status, 404, `${method} ${path}`);
      }
      const malformed = await system.api('/api/v1/platforms/nope/sync/status');
      assert.equal(malformed.status, 422);
      const badWait = await system.api(`/api/v1/platforms/${platformId}/sync/once?wait=9999`, {
        method: 'POST',
      });
      assert.equal(badWait.status, 422);
      const badFilter = await system.api('/api/v1/jobs?status=sleeping');
      assert.equal(badFilter.status, 422);
    });
  },
);
