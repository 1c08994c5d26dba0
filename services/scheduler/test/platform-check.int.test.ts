import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { summarizePlatform, type Platform } from '@psc/contracts';
import { AppError } from '@psc/core';
import type { RpcServer } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { registryPlatform, runNow, startStandInRegistry } from './support.ts';

interface ProjectedRow {
  id: string;
  name: string;
  version: number;
  deleted: boolean;
  resources: { name: string; params?: string[] }[];
  updated_at: Date;
}

/**
 * The scheduler's projection of platforms follows the registry's events. When events were lost
 * (a database restored from an older backup, an event parked as poison) or came from a registry
 * too old to carry what the scheduler now reads, the leader's check against the registry
 * repairs it.
 */
describe('the scheduler checks its platform projection against the registry', () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  /** What the stand-in registry holds. */
  const known = new Map<string, Platform>();
  let s: Awaited<ReturnType<typeof startInProcess>>;
  let registry: RpcServer;

  const projected = async (id: string) =>
    (await s.knex.withSchema('scheduler').table('platforms').where({ id }).first()) as
      ProjectedRow | undefined;

  /** A platform announced to the scheduler as `announced` says; the registry holds `held`. */
  async function platform(
    resources: Parameters<typeof registryPlatform>[1]['resources'],
    options: {
      announce?: (p: Platform) => ReturnType<typeof summarizePlatform> | undefined;
      held?: (p: Platform) => Platform | undefined;
    } = {},
  ): Promise<Platform> {
    const p = registryPlatform(clock.now(), { resources });
    const held = options.held ? options.held(p) : p;
    if (held) known.set(p.id, held);
    const announced = options.announce ? options.announce(p) : summarizePlatform(p);
    if (announced) {
      await s.mq.announce(announced);
      await s.waitForPlatform(p.id);
    }
    return p;
  }

  before(async () => {
    // No check on its own during these tests (the first would come after a day).
    s = await startInProcess('scheduler-platform-check', clock, {
      PSC_PLATFORM_CHECK_EVERY_MS: '86400000',
    });
    registry = await startStandInRegistry(s.mq.broker, known);
  });
  after(async () => {
    await registry?.stop();
    await s?.stop();
  });

  it('when the projection missed a registration, an update and a deletion, and holds a summary without params, then one check repairs each and leaves the rest alone, and run-now then refuses a collect run without its params', async () => {
    const same = await platform([{ name: 'booths' }]);
    // Announced by a registry that did not send resources' params yet.
    const withoutParams = await platform(
      [{ name: 'cards', tasks: ['collect'], params: ['date'] }],
      {
        announce: (p) => {
          const summary = summarizePlatform(p);
          return {
            ...summary,
            resources: summary.resources.map(({ params: _, ...r }) => r),
          };
        },
      },
    );
    // Version 2 (renamed) never reached the scheduler.
    const behind = await platform([{ name: 'booths' }], {
      held: (p) => ({ ...p, version: 2, name: `${p.name}-renamed` }),
    });
    const neverAnnounced = await platform([{ name: 'booths' }], { announce: () => undefined });
    const deleted = await platform([{ name: 'booths' }], { held: () => undefined });
    assert.deepEqual((await projected(withoutParams.id))?.resources[0]?.params, undefined);
    // Before the repair, the scheduler cannot know the run lacks its param: it makes the job.
    const unchecked = await runNow(s.rpc, {
      taskType: 'collect',
      platformId: withoutParams.id,
      resource: 'cards',
      params: {},
    });
    assert.equal(unchecked.jobs.length, 1);
    const untouchedAt = (await projected(same.id))?.updated_at;

    // A platform projected after the check began is left to its events: time goes on.
    clock.advance(1_000);
    const result = await s.app.checkPlatforms();
    assert.deepEqual(
      [...result.updated].sort(),
      [withoutParams.id, behind.id, neverAnnounced.id].sort(),
    );
    assert.deepEqual(result.deleted, [deleted.id]);
    assert.equal(result.listed, known.size);

    assert.deepEqual((await projected(withoutParams.id))?.resources[0]?.params, ['date']);
    const renamed = await projected(behind.id);
    assert.deepEqual([renamed?.version, renamed?.name], [2, `${behind.name}-renamed`]);
    assert.equal((await projected(neverAnnounced.id))?.name, neverAnnounced.name);
    assert.equal((await projected(deleted.id))?.deleted, true);
    assert.deepEqual((await projected(same.id))?.updated_at, untouchedAt, 'the same left alone');

    assert.deepEqual(await s.app.checkPlatforms(), {
      listed: known.size,
      updated: [],
      deleted: [],
    });
    await assert.rejects(
      runNow(s.rpc, {
        taskType: 'collect',
        platformId: withoutParams.id,
        resource: 'cards',
        params: {},
      }),
      (err: unknown) =>
        err instanceof AppError && err.status === 422 && /needs params: date/.test(err.message),
    );
  });

  it('when an event older than the projection is checked, then the newer projection stays', async () => {
    // The registry answers version 1 while the scheduler already has version 3 from its events:
    // a listing taken before the change committed.
    const p = await platform([{ name: 'booths' }], { announce: () => undefined });
    await s.mq.announce({ ...summarizePlatform(p), version: 3, name: `${p.name}-v3` });
    await waitFor(async () => (await projected(p.id))?.version === 3, { message: 'v3 projected' });
    const result = await s.app.checkPlatforms();
    assert.ok(!result.updated.includes(p.id));
    assert.equal((await projected(p.id))?.name, `${p.name}-v3`);
  });
});

describe('the leader checks the platform projection on its own', () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  const known = new Map<string, Platform>();
  let s: Awaited<ReturnType<typeof startInProcess>>;
  let registry: RpcServer;

  before(async () => {
    s = await startInProcess('scheduler-platform-check-loop', clock, {
      PSC_PLATFORM_CHECK_EVERY_MS: '1000',
    });
    registry = await startStandInRegistry(s.mq.broker, known);
  });
  after(async () => {
    await registry?.stop();
    await s?.stop();
  });

  it('when a platform only the registry knows is waiting, then within a few check intervals it is projected without any event', async () => {
    const p = registryPlatform(clock.now(), { resources: [{ name: 'booths' }] });
    known.set(p.id, p);
    await s.waitForPlatform(p.id);
  });
});
