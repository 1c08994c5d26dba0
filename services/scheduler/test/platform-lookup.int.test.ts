import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { platformSyncControl, platformSyncStatusGet, type Platform } from '@psc/contracts';
import { AppError } from '@psc/core';
import type { RpcServer } from '@psc/messaging';
import { manualClock, startInProcess } from './in-process.ts';
import { registryPlatform, startStandInRegistry } from './support.ts';

/**
 * The console opens a platform's page the moment the registry answers its registration; the
 * scheduler learns of it from an event that may still be in flight. Its reads by id must not
 * answer 404 meanwhile.
 */
describe(
  'a platform whose registration event has not reached the scheduler yet',
  { timeout: 60_000 },
  () => {
    const clock = manualClock('2030-01-01T00:00:00.000Z');
    /** What the stand-in registry knows; nothing here is announced on the event bus. */
    const known = new Map<string, Platform>();
    let s: Awaited<ReturnType<typeof startInProcess>>;
    let registry: RpcServer;

    function register(): Platform {
      const p = registryPlatform(clock.now(), {
        schedule: { sync: { enabled: true, intervalSeconds: 60 } },
        resources: [{ name: 'booths' }],
      });
      known.set(p.id, p);
      return p;
    }

    before(async () => {
      s = await startInProcess('scheduler-platform-lookup', clock);
      registry = await startStandInRegistry(s.mq.broker, known);
    });
    after(async () => {
      await registry?.stop();
      await s?.stop();
    });

    it('when its sync status is asked, then the scheduler answers from the registry and keeps it; an id the registry does not know is 404', async () => {
      const p = register();
      const status = await s.rpc.call(platformSyncStatusGet, { platformId: p.id });
      assert.equal(status.platformId, p.id);
      assert.equal(status.isRunning, true, JSON.stringify(status));
      assert.equal(status.syncInterval, 60, 'the schedule the registry holds');
      assert.equal(status.nextFireTimes.length, 5);
      const projected = (await s.knex
        .withSchema('scheduler')
        .table('platforms')
        .where({ id: p.id })
        .first()) as { name: string } | undefined;
      assert.equal(projected?.name, p.name, 'projected for the reads that follow');

      await assert.rejects(
        s.rpc.call(platformSyncStatusGet, { platformId: randomUUID() }),
        (err: unknown) => err instanceof AppError && err.status === 404,
      );
    });

    it('when its sync is stopped, then the stop applies and its status says so', async () => {
      const p = register();
      const stopped = await s.rpc.call(platformSyncControl, {
        platformId: p.id,
        action: 'stop',
        reason: 'not yet',
      });
      assert.equal(stopped.isRunning, false);
      assert.equal(stopped.pausedReason, 'sync stopped: not yet');
      const status = await s.rpc.call(platformSyncStatusGet, { platformId: p.id });
      assert.equal(status.pausedReason, 'sync stopped: not yet');
    });
  },
);
