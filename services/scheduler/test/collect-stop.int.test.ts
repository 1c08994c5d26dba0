import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  QUEUE_SPECS,
  collectScheduleControl,
  collectScheduleStops,
  type Platform,
} from '@psc/contracts';
import { AppError } from '@psc/core';
import { type RpcServer } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary, registryPlatform, runNow, startStandInRegistry } from './support.ts';

interface JobRow {
  id: string;
  resource: string;
  status: string;
  trigger: string;
  created_at: Date;
  scheduled_for: Date | null;
  error: { message: string } | null;
}

const MINUTE = 60_000;
/** Every minute, each run its own (no worker ends them here, so `skip` would stop at one). */
const schedule = {
  collect: { enabled: true, intervalSeconds: 60, overlap: 'enqueue' as const },
};

describe(
  'collect.schedule.control: a collector’s schedule stopped and started',
  { timeout: 90_000 },
  () => {
    const clock = manualClock('2030-01-01T00:00:00.000Z');
    let s: Awaited<ReturnType<typeof startInProcess>>;
    /** The registry's platforms that were never announced to the scheduler. */
    const unannounced = new Map<string, Platform>();
    let registry: RpcServer;

    before(async () => {
      s = await startInProcess('scheduler-collect-stop', clock);
      registry = await startStandInRegistry(s.mq.broker, unannounced);
    });
    after(async () => {
      await registry?.stop();
      await s?.stop();
    });

    /** A platform with two collectors (races, cards) scheduled every minute, known to the scheduler. */
    async function collectPlatform() {
      const p = platformSummary({
        schedule,
        resources: [
          { name: 'races', tasks: ['collect'] },
          { name: 'cards', tasks: ['collect'] },
          { name: 'booths', tasks: ['sync'] },
        ],
      });
      await s.mq.announce(p);
      await s.waitForPlatform(p.id);
      await s.step(0);
      await waitFor(
        async () =>
          (
            (await s.knex
              .withSchema('scheduler')
              .table('schedules')
              .where({ platform_id: p.id, task_type: 'collect' })) as unknown[]
          ).length === 2,
        { message: 'both collect schedules started' },
      );
      return p;
    }

    const jobsOf = async (platformId: string, resource: string) =>
      (await s
        .jobs()
        .where({ platform_id: platformId, resource, task_type: 'collect' })
        .orderBy('created_at')) as JobRow[];
    const scheduledSince = async (platformId: string, resource: string, since: Date) =>
      (await jobsOf(platformId, resource)).filter(
        (j) => j.trigger === 'schedule' && j.created_at > since,
      );

    it('when one collector is stopped, then its schedule makes no run over several ticks while the other’s keeps running, and start brings it back', async () => {
      const p = await collectPlatform();
      await s.step(MINUTE);
      assert.equal((await scheduledSince(p.id, 'races', new Date(0))).length, 1, 'it ran before');

      const stopped = await s.rpc.call(collectScheduleControl, {
        platformId: p.id,
        resource: 'races',
        action: 'stop',
        reason: 'season over',
      });
      const stopAt = clock.now();
      assert.deepEqual(stopped, {
        platformId: p.id,
        resource: 'races',
        enabled: false,
        reason: 'season over',
        stoppedAt: stopAt.toISOString(),
      });
      const { items } = await s.rpc.call(collectScheduleStops, {});
      assert.deepEqual(
        items.filter((i) => i.platformId === p.id),
        [stopped],
      );
      for (let i = 0; i < 4; i++) await s.step(MINUTE);
      assert.equal((await scheduledSince(p.id, 'races', stopAt)).length, 0, 'stopped: no run');
      assert.equal((await scheduledSince(p.id, 'cards', stopAt)).length, 4, 'the other runs on');

      const started = await s.rpc.call(collectScheduleControl, {
        platformId: p.id,
        resource: 'races',
        action: 'start',
      });
      assert.deepEqual([started.enabled, started.reason, started.stoppedAt], [true, null, null]);
      const startAt = clock.now();
      // Like a platform's start: the schedule resumes from its next fire time, with no catch-up
      // of the minutes it was stopped. That is startAt's next minute when a tick at startAt saw
      // the start, else the one after: two or three runs in three minutes, none due before.
      for (let i = 0; i < 3; i++) await s.step(MINUTE);
      const resumed = await scheduledSince(p.id, 'races', startAt);
      assert.ok(
        resumed.length >= 2 && resumed.length <= 3,
        `running again: ${resumed.length} runs`,
      );
      for (const run of resumed) {
        assert.ok(run.scheduled_for! > startAt, `no catch-up: ${run.scheduled_for?.toISOString()}`);
      }
      assert.equal((await scheduledSince(p.id, 'cards', startAt)).length, 3);
      const after = await s.rpc.call(collectScheduleStops, {});
      assert.equal(after.items.filter((i) => i.platformId === p.id).length, 0);
      const audit = (await s.knex
        .withSchema('scheduler')
        .table('audit')
        .where({ target: `collector:${p.id}/races` })
        .orderBy('id')) as { action: string; reason: string | null }[];
      assert.deepEqual(
        audit.map((a) => [a.action, a.reason]),
        [
          ['collect.stop', 'season over'],
          ['collect.start', null],
        ],
      );
    });

    it('when a collector is stopped, then its queued scheduled runs are cancelled with the reason and told to the collector; its run-now jobs and the other collector’s runs stay, and the ticks cancel a scheduled run that slipped in', async () => {
      const p = await collectPlatform();
      await s.step(MINUTE);
      await s.step(MINUTE);
      const once = await runNow(s.rpc, {
        platformId: p.id,
        resource: 'races',
        taskType: 'collect',
        params: { date: '2030-01-01' },
      });
      const { received: cancellations, stop: stopCapture } = await s.mq.captureCancellations(
        QUEUE_SPECS.collectorCancellations,
      );
      try {
        const queuedBefore = (await jobsOf(p.id, 'races')).filter(
          (j) => j.trigger === 'schedule' && j.status === 'queued',
        );
        assert.equal(queuedBefore.length, 2);

        await s.rpc.call(collectScheduleControl, {
          platformId: p.id,
          resource: 'races',
          action: 'stop',
          reason: 'vendor outage',
        });
        const races = await jobsOf(p.id, 'races');
        const scheduled = races.filter((j) => j.trigger === 'schedule');
        assert.deepEqual(
          scheduled.map((j) => [j.status, j.error?.message]),
          queuedBefore.map(() => ['cancelled', 'collector stopped: vendor outage']),
        );
        assert.deepEqual(
          races.filter((j) => j.trigger === 'api').map((j) => [j.id, j.status]),
          [[once.jobs[0]!.id, 'queued']],
          'run-now is not the schedule’s',
        );
        const cards = await jobsOf(p.id, 'cards');
        assert.equal(cards.length, 2);
        assert.ok(
          cards.every((j) => j.status === 'queued'),
          'the other collector’s runs stay',
        );
        await waitFor(
          () =>
            queuedBefore.every((j) =>
              cancellations.some(
                (c) => c.jobId === j.id && c.reason === 'collector stopped: vendor outage',
              ),
            ),
          { message: 'job.cancel-requested of each cancelled run' },
        );

        // A queued scheduled run the stop left (one beyond its first batch, or one written by an
        // earlier release): the next tick cancels it, as it cancels a stopped platform's.
        const slipped = randomUUID();
        const at = clock.now();
        await s.jobs().insert({
          id: slipped,
          platform_id: p.id,
          resource: 'races',
          task_type: 'collect',
          status: 'queued',
          priority: 5,
          trigger: 'schedule',
          params: '{}',
          // Between fire times: not the run the last tick made.
          scheduled_for: new Date(at.getTime() + 30_000),
          created_at: at,
          updated_at: at,
        });
        await s.step(MINUTE);
        await s.step(MINUTE);
        const later = await jobsOf(p.id, 'races');
        assert.equal(later.find((j) => j.id === slipped)?.status, 'cancelled');
        assert.equal(later.length, races.length + 1, 'no new scheduled run');
        assert.equal(later.find((j) => j.id === once.jobs[0]!.id)?.status, 'queued');
      } finally {
        await stopCapture();
      }
    });

    const dueAt = async (platformId: string, resource: string, at: Date) =>
      (await jobsOf(platformId, resource)).filter(
        (j) => j.scheduled_for?.getTime() === at.getTime(),
      );

    it('when a collector is stopped while a tick that planned before the stop writes its runs, then that tick writes the other collector’s run and not the stopped one’s', async () => {
      const p = await collectPlatform();
      await s.step(MINUTE);
      const at = await s.stopWhileTickWrites(MINUTE, (trx, at) =>
        trx
          .withSchema('scheduler')
          .table('collect_stops')
          .insert({ platform_id: p.id, resource: 'races', reason: null, stopped_at: at }),
      );
      assert.deepEqual(await dueAt(p.id, 'races', at), [], 'no run of the stopped collector');
      assert.equal((await dueAt(p.id, 'cards', at)).length, 1, 'the other collector’s run');
    });

    it('when a platform’s sync is stopped while a tick that planned before the stop writes its runs, then that tick writes no run of it and the other platform’s', async () => {
      const p = await collectPlatform();
      const other = await collectPlatform();
      await s.step(MINUTE);
      const at = await s.stopWhileTickWrites(MINUTE, (trx) =>
        trx
          .withSchema('scheduler')
          .table('platforms')
          .where({ id: p.id })
          .update({ sync_enabled: false }),
      );
      for (const resource of ['races', 'cards']) {
        assert.deepEqual(await dueAt(p.id, resource, at), [], `no ${resource} run`);
        assert.equal((await dueAt(other.id, resource, at)).length, 1, `the other’s ${resource}`);
      }
    });

    it('when a stopped collector is run now, then its job is queued and sent to the collector, and the ticks leave it alone', async () => {
      const p = await collectPlatform();
      await s.rpc.call(collectScheduleControl, {
        platformId: p.id,
        resource: 'races',
        action: 'stop',
      });
      const jobs = await s.mq.consumeJobs(100, QUEUE_SPECS.collectorJobs);
      try {
        const once = await runNow(s.rpc, {
          platformId: p.id,
          resource: 'races',
          taskType: 'collect',
          params: {},
        });
        const id = once.jobs[0]!.id;
        await waitFor(() => jobs.received.some((j) => j.payload.jobId === id), {
          message: 'job.run of the run-now job',
        });
        await s.step(MINUTE);
        await s.step(MINUTE);
        const races = await jobsOf(p.id, 'races');
        assert.deepEqual(
          races.map((j) => [j.id, j.status, j.trigger]),
          [[id, 'queued', 'api']],
        );
      } finally {
        await jobs.stop();
      }
    });

    it('when a platform stops collecting a resource, then that collector’s stop goes: added back under the same name it runs on its schedule; a deleted platform’s stops go too', async () => {
      const p = await collectPlatform();
      for (const resource of ['races', 'cards']) {
        await s.rpc.call(collectScheduleControl, { platformId: p.id, resource, action: 'stop' });
      }
      const stopsOf = async () =>
        (await s.rpc.call(collectScheduleStops, {})).items
          .filter((i) => i.platformId === p.id)
          .map((i) => i.resource)
          .sort();
      assert.deepEqual(await stopsOf(), ['cards', 'races']);

      // Version 2 drops races; cards and its stop stay.
      await s.mq.announce({
        ...p,
        version: 2,
        resources: [
          { name: 'cards', tasks: ['collect'] },
          { name: 'booths', tasks: ['sync'] },
        ],
      });
      await waitFor(async () => (await stopsOf()).join() === 'cards', {
        message: 'the dropped collector’s stop is gone, the other’s stays',
      });

      // Version 3 brings races back: a new collector, scheduled like any other.
      await s.mq.announce({ ...p, version: 3 });
      await waitFor(
        async () =>
          (
            (await s.knex
              .withSchema('scheduler')
              .table('platforms')
              .where({ id: p.id })
              .first()) as { version: number }
          ).version === 3,
        { message: 'version 3 projected' },
      );
      const backAt = clock.now();
      for (let i = 0; i < 3; i++) await s.step(MINUTE);
      assert.ok((await scheduledSince(p.id, 'races', backAt)).length >= 2, 'races runs again');
      assert.equal((await scheduledSince(p.id, 'cards', backAt)).length, 0, 'cards still stopped');
      assert.deepEqual(await stopsOf(), ['cards']);

      await s.mq.retire(p.id, 4);
      await waitFor(async () => (await stopsOf()).length === 0, {
        message: 'a deleted platform keeps no collector stop',
      });
    });

    it('when the platform is not projected yet, then the stop asks the registry and applies; an unknown platform, or a resource without a collect task, is 404', async () => {
      const p = registryPlatform(clock.now(), {
        resources: [{ name: 'races', tasks: ['collect'] }, { name: 'booths' }],
      });
      unannounced.set(p.id, p);
      const stopped = await s.rpc.call(collectScheduleControl, {
        platformId: p.id,
        resource: 'races',
        action: 'stop',
      });
      assert.deepEqual([stopped.enabled, stopped.reason], [false, null]);

      const notFound = (err: unknown) => err instanceof AppError && err.status === 404;
      await assert.rejects(
        s.rpc.call(collectScheduleControl, {
          platformId: p.id,
          resource: 'booths',
          action: 'stop',
        }),
        notFound,
      );
      await assert.rejects(
        s.rpc.call(collectScheduleControl, { platformId: p.id, resource: 'nope', action: 'stop' }),
        notFound,
      );
      await assert.rejects(
        s.rpc.call(collectScheduleControl, {
          platformId: randomUUID(),
          resource: 'races',
          action: 'stop',
        }),
        notFound,
      );
    });
  },
);
