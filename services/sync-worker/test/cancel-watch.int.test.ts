import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createJobRunRepository } from '@psc/job-runner';
import { startFakePlatform, waitFor } from '@psc/testing';
import { itemsResource, startHarness } from './support/harness.ts';

describe(
  'sync-worker cancel watch: a run cancelled in the queue never calls its platform',
  { timeout: 60_000 },
  () => {
    it('when another replica stores the cancellation of a run waiting behind a busy slot, then this replica refuses it before its first page: the platform is never asked and the run ends cancelled', async (t) => {
      const h = await startHarness(t, { PSC_WORKER_CONCURRENCY: '1' });
      const fake = await startFakePlatform();
      t.after(() => fake.stop());
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      fake.route('GET', '/busy', async () => {
        await released;
        return { body: { data: [{ id: 'a' }] } };
      });
      let waitingCalls = 0;
      fake.route('GET', '/waiting', () => {
        waitingCalls += 1;
        return { body: { data: [{ id: 'b' }] } };
      });
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [itemsResource('busy'), itemsResource('waiting')],
      });

      const busy = await h.runJob(platform, 'busy');
      await waitFor(() => fake.requests.length >= 1, { message: 'the busy run holds the slot' });
      const waiting = await h.runJob(platform, 'waiting');
      // What the cancellations consumer of another replica does: store it, and notify.
      await createJobRunRepository(h.knex, 'sync').cancel(waiting, 1, new Date());
      await waitFor(() => h.app.knowsCancelled(waiting, 1) === true, {
        message: 'this replica heard of the cancellation',
      });
      release();

      await h.finished(busy);
      const done = await h.finished(waiting);
      assert.equal(done.outcome, 'cancelled');
      assert.equal(waitingCalls, 0, 'the cancelled run never asked its platform');
      assert.deepEqual(h.eventsOf('job.succeeded', waiting), []);
    });

    it('when the listener’s connection is cut, then the replica asks the table meanwhile and, back, knows what was cancelled while it was away', async (t) => {
      const h = await startHarness(t);
      const runs = createJobRunRepository(h.knex, 'sync');
      const before = randomUUID();
      await runs.cancel(before, 1, new Date());
      await waitFor(() => h.app.knowsCancelled(before, 1) === true, { message: 'heard' });

      const cut = await h.knex.raw<{ rows: unknown[] }>(
        `select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()
          and query like 'listen %cancellations%'`,
      );
      assert.equal(cut.rows.length, 1, 'the listener connection was found and cut');
      await waitFor(() => h.app.knowsCancelled(before, 1) === undefined, {
        message: 'the replica no longer claims to know',
      });
      const away = randomUUID();
      await runs.cancel(away, 1, new Date());

      await waitFor(() => h.app.knowsCancelled(away, 1) === true, {
        timeoutMs: 10_000,
        message: 'back, it knows the cancellation stored while it was away',
      });
      assert.equal(h.app.knowsCancelled(before, 1), true);
      assert.equal(h.app.knowsCancelled(randomUUID(), 1), false);
    });
  },
);
