import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobRunNow, recordsList } from '@psc/contracts';
import { createRpcServer, rpcHandler } from '@psc/messaging';
import { createLogger } from '@psc/telemetry';
import { startFakePlatform, waitFor, type Item } from '@psc/testing';
import { startHarness } from './support/harness.ts';

const resource = (extra: Record<string, unknown> = {}) => ({
  name: 'items',
  request: { path: '/items' },
  pagination: { type: 'none' },
  itemsPath: 'data',
  key: 'id',
  mapping: { id: 'id', updatedAt: 'updatedAt' },
  ...extra,
});

describe(
  'sync-worker.jobs: incremental sync, successWhen, auto-heal, timeout, auth',
  { timeout: 90_000 },
  () => {
    it('when a resource names a cursor, then the next run sends the high-water mark, a failed run does not advance it, and params.full forces a full sync', async (t) => {
      const h = await startHarness(t);
      const fake = await startFakePlatform();
      t.after(() => fake.stop());
      // The platform honours `since` like an incremental API would.
      fake.setCollection(
        '/items',
        [1, 2, 3].map((n) => ({ id: `i${n}`, updatedAt: n })),
        {
          filter: (item, query) =>
            !query.has('since') || Number(item.updatedAt) > Number(query.get('since')),
        },
      );
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [resource({ cursor: { field: 'updatedAt', param: 'since' } })],
      });
      const since = () => fake.requests.at(-1)?.query.since;

      const first = await h.finished(await h.runJob(platform, 'items'));
      assert.equal(since(), undefined, 'the first run has no mark yet');
      assert.deepEqual(first.stats, {
        fetched: 3,
        inserted: 3,
        updated: 0,
        unchanged: 0,
        deleted: 0,
      });

      fake.updateItem('/items', (i) => i.id === 'i2', { updatedAt: 4 });
      fake.addItem('/items', { id: 'i5', updatedAt: 5 });
      const second = await h.finished(await h.runJob(platform, 'items'));
      assert.equal(since(), '3');
      // Only the changes came back; the items not sent are not taken for deleted.
      assert.deepEqual(second.stats, {
        fetched: 2,
        inserted: 1,
        updated: 1,
        unchanged: 0,
        deleted: 0,
      });

      // A run that fails after seeing a newer item (the next item cannot be mapped) keeps the mark.
      fake.addItem('/items', { id: 'i6', updatedAt: 6 });
      fake.addItem('/items', { updatedAt: 7 });
      const failed = await h.finished(await h.runJob(platform, 'items'));
      assert.equal(failed.outcome, 'failed');
      assert.equal(since(), '5');
      fake.removeItem('/items', (i) => i.id === undefined);
      const third = await h.finished(await h.runJob(platform, 'items'));
      assert.equal(since(), '5', 'the failed run did not advance the mark');
      assert.deepEqual(third.stats, {
        fetched: 1,
        inserted: 1,
        updated: 0,
        unchanged: 0,
        deleted: 0,
      });

      fake.removeItem('/items', (i) => i.id === 'i1');
      const full = await h.finished(await h.runJob(platform, 'items', { params: { full: true } }));
      assert.equal(since(), undefined, 'a forced full sync sends no mark');
      assert.deepEqual(full.stats, {
        fetched: 4,
        inserted: 0,
        updated: 0,
        unchanged: 4,
        deleted: 1,
      });
    });

    it("when successWhen is false for a 200 body (seed 001's resultCode), then the job fails at once with the body's message", async (t) => {
      const h = await startHarness(t);
      const fake = await startFakePlatform();
      t.after(() => fake.stop());
      fake.route('GET', '/items', () => ({
        body: {
          header: { resultCode: '30', resultMsg: 'SERVICE KEY IS NOT REGISTERED ERROR.' },
          data: [{ id: 'a' }],
        },
      }));
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [
          resource({
            successWhen: "header.resultCode = '00'",
            errorMessagePath: 'header.resultMsg',
          }),
        ],
      });

      const jobId = await h.runJob(platform, 'items');
      const done = await h.finished(jobId);

      assert.equal(done.outcome, 'failed');
      assert.equal(done.attempt, 1);
      assert.deepEqual(done.error, {
        message: 'platform reported an error: SERVICE KEY IS NOT REGISTERED ERROR.',
        class: 'upstream_error',
      });
      assert.equal(fake.requests.length, 1, 'no retry');
      const stored = await h.rpc.call(recordsList, {
        platformId: platform.id,
        resource: 'items',
        limit: 10,
      });
      assert.deepEqual(stored.items, []);
    });

    it('when validate finds drift on an autoHeal resource, then a sync is requested and heals it', async (t) => {
      const h = await startHarness(t);
      const fake = await startFakePlatform({ collections: { '/items': items(3) } });
      t.after(() => fake.stop());
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [resource({ autoHeal: true, tasks: ['sync', 'validate'] })],
      });
      // A stand-in scheduler: run-now publishes the sync job as the real one would.
      const requested: unknown[] = [];
      const scheduler = createRpcServer({
        broker: h.broker,
        service: 'scheduler',
        logger: createLogger({ service: 'scheduler-test', level: 'silent' }),
        handlers: [
          rpcHandler(jobRunNow, async ({ requests }) => ({
            results: await Promise.all(
              requests.map(async (request) => {
                requested.push(request);
                const id = await h.runJob(platform, request.resource ?? 'items');
                return { ok: true as const, jobs: [{ id, status: 'queued' as const }] };
              }),
            ),
          })),
        ],
      });
      await scheduler.start();
      t.after(() => scheduler.stop());
      await h.finished(await h.runJob(platform, 'items'));
      fake.addItem('/items', { id: 'i4', updatedAt: 4 });

      const validation = await h.runJob(platform, 'items', { taskType: 'validate' });
      await h.finished(validation);

      const [drift] = h.eventsOf('validation.drift_detected', validation);
      assert.equal(drift?.autoHeal, true);
      await waitFor(() => requested.length === 1, { message: 'auto-heal requested a sync' });
      assert.deepEqual(requested[0], {
        platformId: platform.id,
        resource: 'items',
        taskType: 'sync',
        params: {},
      });
      const healed = await waitFor(async () => {
        const page = await h.rpc.call(recordsList, {
          platformId: platform.id,
          resource: 'items',
          limit: 10,
        });
        return page.items.length === 4 ? page.items : undefined;
      });
      assert.ok(healed.some((r) => r.key === 'i4'));
    });

    it('when a job runs past PSC_JOB_TIMEOUT_MS, then it stops with job_timeout and stores nothing', async (t) => {
      const h = await startHarness(t, { PSC_JOB_TIMEOUT_MS: '1000', PSC_MAX_ATTEMPTS: '1' });
      const fake = await startFakePlatform();
      t.after(() => fake.stop());
      fake.setCollection('/items', items(40));
      fake.setLatency(250);
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [resource({ pagination: { type: 'page', pageSize: 2 } })],
      });

      const jobId = await h.runJob(platform, 'items');
      const done = await h.finished(jobId);

      assert.equal(done.outcome, 'dead');
      assert.deepEqual(done.error, {
        message: 'job did not finish within 1000 ms',
        class: 'job_timeout',
      });
      assert.ok(fake.requests.length < 20, `stopped early (${fake.requests.length} of 20 pages)`);
      const stored = await h.rpc.call(recordsList, {
        platformId: platform.id,
        resource: 'items',
        limit: 10,
      });
      assert.deepEqual(stored.items, [], 'the job transaction was rolled back');
    });

    it('when a job waited in the worker for a free slot, then its hard timeout counted from its delivery: held 0.7 s behind another, it times out 0.3 s into its 0.6 s run, so no delivery is held past PSC_JOB_TIMEOUT_MS; run alone, the same job succeeds', async (t) => {
      const h = await startHarness(t, {
        PSC_JOB_TIMEOUT_MS: '1000',
        PSC_MAX_ATTEMPTS: '1',
        PSC_WORKER_CONCURRENCY: '1',
        PSC_WORKER_PREFETCH: '2',
      });
      const fake = await startFakePlatform();
      t.after(() => fake.stop());
      fake.setCollection('/first', items(2));
      fake.setCollection('/next', items(2));
      fake.setLatency(700, { path: '/first' });
      fake.setLatency(600, { path: '/next' });
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [
          resource({ name: 'first', request: { path: '/first' } }),
          resource({ name: 'next', request: { path: '/next' } }),
        ],
      });

      const first = await h.runJob(platform, 'first');
      const held = await h.runJob(platform, 'next');
      assert.equal((await h.finished(first)).outcome, undefined, 'the first succeeded');
      assert.equal(h.eventsOf('job.succeeded', first).length, 1);
      const timedOut = await h.finished(held);
      assert.equal(timedOut.outcome, 'dead');
      assert.deepEqual(timedOut.error, {
        message: 'job did not finish within 1000 ms',
        class: 'job_timeout',
      });
      const [firstAt, nextAt] = ['/first', '/next'].map(
        (path) => fake.requests.find((r) => r.path === path)!.at,
      );
      assert.ok(nextAt! - firstAt! >= 600, 'the second waited for the first one’s slot');

      const alone = await h.runJob(platform, 'next');
      await h.finished(alone);
      assert.equal(h.eventsOf('job.succeeded', alone).length, 1, 'alone, it succeeds');
    });

    it('when a platform uses bearer, header or query auth, then the credential is sent that way; a wrong one fails without leaking it', async (t) => {
      const h = await startHarness(t);
      const styles = [
        [{ type: 'bearer', token: 'b-token' }, { authorization: 'Bearer b-token' }],
        [{ type: 'header', name: 'X-Api-Key', token: 'h-token' }, { 'x-api-key': 'h-token' }],
      ] as const;
      for (const [auth, requireHeaders] of styles) {
        const fake = await startFakePlatform({
          collections: { '/items': items(2) },
          requireHeaders: { ...requireHeaders },
        });
        t.after(() => fake.stop());
        const platform = h.addPlatform({ baseUrl: fake.url, auth, resources: [resource()] });
        const done = await h.finished(await h.runJob(platform, 'items'));
        assert.equal(done.outcome, undefined, `${auth.type}: ${JSON.stringify(done.error)}`);
        assert.equal((done.stats as { inserted: number }).inserted, 2);
      }

      const fake = await startFakePlatform({ collections: { '/items': items(2) } });
      t.after(() => fake.stop());
      const byQuery = h.addPlatform({
        baseUrl: fake.url,
        auth: { type: 'query', name: 'serviceKey', token: 'q-token' },
        resources: [resource()],
      });
      const done = await h.finished(await h.runJob(byQuery, 'items'));
      assert.equal((done.stats as { inserted: number }).inserted, 2);
      assert.equal(fake.requests[0]?.query.serviceKey, 'q-token');
      assert.equal(fake.requests[0]?.headers.authorization, undefined);

      const guarded = await startFakePlatform({
        collections: { '/items': items(2) },
        requireHeaders: { authorization: 'Bearer right' },
      });
      t.after(() => guarded.stop());
      const wrong = h.addPlatform({
        baseUrl: guarded.url,
        auth: { type: 'bearer', token: 'wrong-secret' },
        resources: [resource()],
      });
      const jobId = await h.runJob(wrong, 'items');
      const failed = await h.finished(jobId);
      assert.equal(failed.outcome, 'failed');
      assert.deepEqual(failed.error, {
        message: 'platform answered HTTP 401',
        class: 'upstream_status',
      });
      const said = JSON.stringify(h.events.filter((e) => e.payload.jobId === jobId));
      assert.doesNotMatch(said, /wrong-secret/);
    });
  },
);

function items(n: number): Item[] {
  return Array.from({ length: n }, (_, i) => ({ id: `i${i + 1}`, updatedAt: i + 1 }));
}
