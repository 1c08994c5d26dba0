import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { schedulerConfigGet, schedulerConfigPause, schedulerConfigPut } from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

interface JobRow {
  task_type: string;
  scheduled_for: Date;
}

describe('scheduler: pausing one task type', { timeout: 90_000 }, () => {
  const clock = manualClock('2030-02-01T00:00:00.000Z');
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-task-pause', clock);
  });
  after(async () => {
    await s?.stop();
  });

  it('when sync is paused with a reason, then only sync stops emitting, the pause survives a config change, and resume brings it back', async () => {
    const every = { enabled: true, intervalSeconds: 1, overlap: 'enqueue' as const };
    const platform = platformSummary({
      schedule: { sync: every, validate: every },
      resources: [{ name: 'booths', tasks: ['sync', 'validate'] }],
    });
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
    await s.step(0);
    await waitFor(
      async () =>
        (
          (await s.knex
            .withSchema('scheduler')
            .table('schedules')
            .where({ platform_id: platform.id })) as unknown[]
        ).length === 2,
      { message: 'sync and validate schedules created' },
    );
    for (let i = 0; i < 2; i++) await s.step(1_000);
    const count = async (taskType: string) =>
      ((await s.jobs().where({ platform_id: platform.id, task_type: taskType })) as JobRow[])
        .length;
    const syncBefore = await count('sync');
    const validateBefore = await count('validate');
    assert.ok(syncBefore >= 2 && validateBefore >= 2, 'both task types run before the pause');

    const paused = await s.rpc.call(schedulerConfigPause, {
      taskType: 'sync',
      action: 'pause',
      reason: 'upstream migration',
    });
    assert.equal(paused.pausedReason, 'upstream migration');
    assert.equal(paused.nextRunAt, null, 'a paused task type has no next run');

    for (let i = 0; i < 3; i++) await s.step(1_000);
    assert.equal(await count('sync'), syncBefore, 'no sync job while sync is paused');
    assert.equal(await count('validate'), validateBefore + 3, 'validate keeps its schedule');

    // Editing the config while paused does not lift the pause.
    await s.rpc.call(schedulerConfigPut, { taskType: 'sync', config: { timezone: 'UTC' } });
    await s.step(1_000);
    assert.equal(await count('sync'), syncBefore, 'still paused after a config change');
    assert.equal(
      (await s.rpc.call(schedulerConfigGet, { taskType: 'sync' })).pausedReason,
      'upstream migration',
    );

    const audit = (await s.knex
      .withSchema('scheduler')
      .table('audit')
      .where({ target: 'config:sync' })
      .orderBy('at')) as { action: string; reason: string | null }[];
    assert.ok(
      audit.some((a) => a.action === 'config.pause' && a.reason === 'upstream migration'),
      'the pause is audited with its reason',
    );

    const resumed = await s.rpc.call(schedulerConfigPause, { taskType: 'sync', action: 'resume' });
    assert.equal(resumed.pausedReason, null);
    await s.step(1_000);
    await s.step(1_000);
    assert.ok((await count('sync')) > syncBefore, 'sync emits again after resume');
    assert.ok(
      (
        (await s.knex
          .withSchema('scheduler')
          .table('audit')
          .where({ target: 'config:sync', action: 'config.resume' })) as unknown[]
      ).length === 1,
    );
  });
});
