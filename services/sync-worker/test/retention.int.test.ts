import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { startFakePlatform } from '@psc/testing';
import { itemsResource, startHarness } from './support/harness.ts';

const DAY = 86_400_000;

describe(
  'sync-worker retention: run records kept as long as the ledger keeps the job',
  { timeout: 60_000 },
  () => {
    it('when run records, cancellations, crash counts and drift reports are older than PSC_JOB_RETENTION_DAYS, then a retention pass deletes them, keeps the recent ones and the synced records, and jobs still run', async (t) => {
      const h = await startHarness(t, { PSC_JOB_RETENTION_DAYS: '30' });
      const fake = await startFakePlatform({
        collections: { '/items': [{ id: 'a' }, { id: 'b' }] },
      });
      t.after(() => fake.stop());
      const platform = h.addPlatform({ baseUrl: fake.url, resources: [itemsResource('items')] });
      const oldJob = await h.runJob(platform, 'items');
      await h.finished(oldJob);
      const recentJob = await h.runJob(platform, 'items');
      await h.finished(recentJob);

      const sync = (table: string) => h.knex.withSchema('sync').table(table);
      const longAgo = new Date(Date.now() - 31 * DAY);
      const lately = new Date(Date.now() - 29 * DAY);
      await sync('job_runs').where({ job_id: oldJob }).update({ finished_at: longAgo });
      const [oldOther, recentOther] = [randomUUID(), randomUUID()];
      await sync('cancelled_jobs').insert([
        { job_id: oldOther, run: 1, at: longAgo },
        { job_id: recentOther, run: 1, at: lately },
      ]);
      await sync('job_crashes').insert([
        { job_id: oldOther, run: 1, crashes: 1, at: longAgo },
        { job_id: recentOther, run: 1, crashes: 1, at: lately },
      ]);
      const report = (jobId: string, at: Date) => ({
        job_id: jobId,
        platform_id: platform.id,
        resource: 'items',
        drift: false,
        counts: JSON.stringify({ source: 2, stored: 2, missing: 0, extra: 0, changed: 0 }),
        report: JSON.stringify({ missing: [], extra: [], changed: [] }),
        at,
      });
      await sync('validations').insert([report(oldOther, longAgo), report(recentOther, lately)]);

      assert.deepEqual(await h.app.purgeOld(), {
        'run records': 1,
        cancellations: 1,
        'crash counts': 1,
        'drift reports': 1,
      });
      const jobIds = async (table: string) =>
        (await sync(table).select<{ job_id: string }[]>('job_id')).map((r) => r.job_id).sort();
      assert.deepEqual(await jobIds('job_runs'), [recentJob]);
      for (const table of ['cancelled_jobs', 'job_crashes', 'validations']) {
        assert.deepEqual(await jobIds(table), [recentOther], `${table} keeps the recent row`);
      }
      // Retention ages out what the worker remembers about runs, never the data it synced.
      const stored = (await sync('records').where({ platform_id: platform.id })) as unknown[];
      assert.equal(stored.length, 2);
      // The worker goes on.
      const next = await h.runJob(platform, 'items');
      await h.finished(next);
      assert.equal(h.eventsOf('job.succeeded', next).length, 1);
    });
  },
);
