import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobGet, jobOutcomes } from '@psc/contracts';
import { createRpcServer, rpcHandler, type RpcServer } from '@psc/messaging';
import { manualClock, startInProcess } from './in-process.ts';
import { logger, platformSummary, runNow } from './support.ts';

describe('job ledger reconciliation', { timeout: 60_000 }, () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  const platform = platformSummary({
    resources: [
      { name: 'booths', tasks: ['sync'] },
      { name: 'shops', tasks: ['sync'] },
      { name: 'stalls', tasks: ['sync'] },
    ],
  });
  /** What the stand-in sync-worker recorded, by job id. */
  const recorded = new Map<string, 'succeeded' | 'failed' | 'continues'>();
  let s: Awaited<ReturnType<typeof startInProcess>>;
  let worker: RpcServer;

  before(async () => {
    s = await startInProcess('scheduler-reconcile', clock, { PSC_RECONCILE_AFTER_MS: '60000' });
    worker = createRpcServer({
      broker: s.mq.broker,
      service: 'sync-worker',
      logger,
      handlers: [
        rpcHandler(jobOutcomes['sync-worker'], ({ runs }) =>
          Promise.resolve({
            items: runs.flatMap((r) => {
              const status = recorded.get(r.jobId);
              return status
                ? [
                    {
                      ...r,
                      attempt: 1,
                      status,
                      stats:
                        status === 'succeeded'
                          ? { fetched: 2, inserted: 2, updated: 0, unchanged: 0 }
                          : null,
                      at: clock.now().toISOString(),
                    },
                  ]
                : [];
            }),
          }),
        ),
      ],
    });
    await worker.start();
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
  });
  after(async () => {
    await worker?.stop();
    await s?.stop();
  });

  it('when a worker recorded an outcome whose report never reached the ledger, then the ledger finishes the job from the worker’s record once it has been open long enough', async () => {
    const ids = [];
    for (const resource of ['booths', 'shops', 'stalls']) {
      const { jobs } = await runNow(s.rpc, {
        taskType: 'sync',
        platformId: platform.id,
        resource,
        params: {},
      });
      ids.push(jobs[0]!.id);
    }
    const [done, failed, unknown] = ids as [string, string, string];
    recorded.set(done, 'succeeded');
    recorded.set(failed, 'failed');

    assert.equal(await s.app.reconcile(), 0, 'nothing is old enough yet');
    clock.advance(61_000);
    assert.equal(await s.app.reconcile(), 2);

    const get = (id: string) => s.rpc.call(jobGet, { id });
    assert.deepEqual(
      [(await get(done)).status, (await get(done)).stats?.fetched],
      ['succeeded', 2],
    );
    assert.equal((await get(failed)).status, 'failed');
    assert.equal((await get(unknown)).status, 'queued', 'a job no worker finished stays open');
    assert.equal(await s.app.reconcile(), 0, 'a second pass changes nothing');
  });
});
