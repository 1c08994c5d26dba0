import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  platformSyncControl,
  platformUpdated,
  scheduleList,
  type PlatformSummary,
} from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

interface JobRow {
  resource: string;
  params: { date?: string };
  scheduled_for: Date;
}

const collect = (params: Record<string, unknown>) => ({
  collect: { enabled: true, intervalSeconds: 1, overlap: 'enqueue' as const, params },
});

describe('a schedule whose params template cannot be filled', { timeout: 60_000 }, () => {
  const clock = manualClock('2030-03-01T00:00:00.000Z');
  const platform = platformSummary({
    resources: [
      {
        name: 'races',
        tasks: ['collect'],
        params: ['date'],
        schedule: collect({ date: '{{datum}}' }),
      },
      {
        name: 'cards',
        tasks: ['collect'],
        params: ['date'],
        schedule: collect({ date: '{{date:yyyyMMdd}}' }),
      },
    ],
  });
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-template-pause', clock);
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
  });
  after(async () => {
    await s?.stop();
  });

  const runsOf = async (resource: string) =>
    s
      .jobs()
      .where({ platform_id: platform.id, resource })
      .orderBy('scheduled_for')
      .select<JobRow[]>('resource', 'params', 'scheduled_for');
  const pausedReason = async (resource: string) =>
    (await s.rpc.call(scheduleList, { platformId: platform.id, limit: 50 })).items.find(
      (i) => i.resource === resource,
    )?.pausedReason;

  it('when it names an unknown placeholder, then that schedule pauses itself with the reason, audited, its sibling runs on, and once mended and started it runs with its dates', async () => {
    const reason = await waitFor(
      async () => {
        await s.step(1_000);
        return (await pausedReason('races')) ?? undefined;
      },
      { message: 'the races schedule paused itself', intervalMs: 50 },
    );
    assert.match(reason, /unknown placeholder \{\{datum\}\}/);
    assert.equal(await pausedReason('cards'), null, 'the other schedule keeps running');
    assert.ok((await runsOf('cards')).length > 0, 'the other schedule made runs');
    assert.deepEqual(await runsOf('races'), [], 'no run was made from the bad template');
    const audit = await s.knex
      .withSchema('scheduler')
      .table('audit')
      .where({ action: 'schedule.auto-pause', target: `schedule:${platform.id}/races/collect` })
      .select<{ reason: string }[]>('reason');
    assert.deepEqual(
      audit.map((a) => a.reason),
      [reason],
      'the pause is audited once, with its reason',
    );

    // The registry's mended template alone does not lift the pause: the operator starts it.
    const mended: PlatformSummary = {
      ...platform,
      version: 2,
      resources: platform.resources.map((r) =>
        r.name === 'races' ? { ...r, schedule: collect({ date: '{{date:yyyyMMdd}}' }) } : r,
      ),
    };
    await s.mq.publish(platformUpdated, { platform: mended });
    await waitFor(
      async () =>
        (
          await s.knex
            .withSchema('scheduler')
            .table('platforms')
            .where({ id: platform.id })
            .first<{ version: number }>('version')
        ).version === 2,
      { message: 'the mended platform projected' },
    );
    await s.step(1_000);
    await s.step(1_000);
    assert.deepEqual(await runsOf('races'), [], 'still paused until started');

    await s.rpc.call(platformSyncControl, { platformId: platform.id, action: 'start' });
    const runs = await waitFor(
      async () => {
        await s.step(1_000);
        const rows = await runsOf('races');
        return rows.length > 0 ? rows : undefined;
      },
      { message: 'the started schedule made a run', intervalMs: 50 },
    );
    const day = runs[0]!.scheduled_for.toISOString().slice(0, 10).replaceAll('-', '');
    assert.equal(runs[0]!.params.date, day);
    assert.equal(await pausedReason('races'), null);
  });
});
