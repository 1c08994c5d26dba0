import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EXCHANGES,
  QUEUES,
  jobFailed,
  jobGet,
  jobRequeued,
  jobRunNow,
  jobStarted,
  jobSucceeded,
  type Job,
  type MessageDefinition,
  type PayloadOf,
} from '@psc/contracts';
import { baseTopology, createEnvelope, createPublisher, type Publisher } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

const stats = { fetched: 3, inserted: 3, updated: 0, unchanged: 0, deleted: 0 };
const boom = { message: 'platform answered HTTP 500', class: 'upstream_status' };

describe('scheduler.job-events: job.requeued (DLQ replay)', { timeout: 60_000 }, () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  const platform = platformSummary();
  let s: Awaited<ReturnType<typeof startInProcess>>;
  let publisher: Publisher;

  before(async () => {
    s = await startInProcess('scheduler-replay', clock);
    publisher = createPublisher({ broker: s.mq.broker, topology: baseTopology, appId: 'test' });
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
  });
  after(async () => {
    await publisher?.close();
    await s?.stop();
  });

  /** Publishes what a worker would, as one run (`correlationId`) of the job. */
  const send = <M extends MessageDefinition>(def: M, payload: PayloadOf<M>, run: string) =>
    publisher.publish(
      EXCHANGES.events,
      def.type,
      createEnvelope(def, payload, { correlationId: run, now: clock.now() }),
    );
  const at = () => clock.advance(1_000).toISOString();
  const get = (id: string) => s.rpc.call(jobGet, { id });
  const until = (id: string, test: (job: Job) => boolean, message: string) =>
    waitFor(
      async () => {
        const job = await get(id);
        return test(job) ? job : undefined;
      },
      { message },
    );

  /** A run-now job whose first run failed four times and is dead. */
  async function deadJob(): Promise<string> {
    const { jobs } = await s.rpc.call(jobRunNow, {
      taskType: 'sync',
      platformId: platform.id,
      resource: 'booths',
      params: {},
    });
    const jobId = jobs[0]!.id;
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await send(jobStarted, { jobId, attempt, at: at(), workerId: 'w1' }, jobId);
      const outcome = attempt < 4 ? 'retrying' : 'dead';
      await send(jobFailed, { jobId, attempt, at: at(), error: boom, outcome }, jobId);
    }
    await until(jobId, (j) => j.status === 'dead' && j.attempts === 4, 'first run dead');
    return jobId;
  }

  it('when a dead job is requeued, then it shows queued with trigger replay, the old run’s redelivered events do not move it, and the new run ends it succeeded', async () => {
    const jobId = await deadJob();
    const runId = 'replay:1a2b';

    await send(jobRequeued, { jobId, at: at(), trigger: 'replay', runId }, runId);
    const queued = await until(jobId, (j) => j.status === 'queued', 'job queued again');
    assert.equal(queued.trigger, 'replay');
    assert.equal(queued.attempts, 0);
    assert.equal(queued.error, null);
    assert.equal(queued.finishedAt, null);

    // Redeliveries of the first run, after the reset: a dead or running one would stop the new run.
    await send(jobFailed, { jobId, attempt: 4, at: at(), error: boom, outcome: 'dead' }, jobId);
    await send(jobStarted, { jobId, attempt: 4, at: at(), workerId: 'w1' }, jobId);
    await send(jobStarted, { jobId, attempt: 1, at: at(), workerId: 'w2' }, runId);
    const running = await until(jobId, (j) => j.status !== 'queued', 'new run started');
    assert.equal(running.status, 'running');
    assert.equal(running.attempts, 1);

    await send(jobSucceeded, { jobId, attempt: 1, at: at(), stats }, runId);
    const done = await until(jobId, (j) => j.status !== 'running', 'new run finished');
    assert.equal(done.status, 'succeeded');
    assert.equal(done.trigger, 'replay');
    assert.equal(done.attempts, 1);
    assert.deepEqual(done.stats, stats);
    assert.equal(done.error, null);
  });

  it('when the replayed run reports before its job.requeued arrives, then its events wait in the retry queue and apply once the requeue is in', async () => {
    const jobId = await deadJob();
    const runId = 'replay:3c4d';
    const requeuedAt = at();

    await send(jobStarted, { jobId, attempt: 1, at: at(), workerId: 'w2' }, runId);
    await send(jobSucceeded, { jobId, attempt: 1, at: at(), stats }, runId);
    const channel = s.mq.broker.createChannel('test.check', () => Promise.resolve());
    try {
      await waitFor(
        async () =>
          (await channel.checkQueue(QUEUES.retry(QUEUES.schedulerJobEvents, 0))).messageCount >= 1,
        { message: 'new-run events deferred' },
      );
    } finally {
      await channel.close();
    }
    assert.equal((await get(jobId)).status, 'dead', 'not applied to the old run');

    await send(jobRequeued, { jobId, at: requeuedAt, trigger: 'replay', runId }, runId);
    const done = await until(jobId, (j) => j.status === 'succeeded', 'replayed run succeeded');
    assert.equal(done.trigger, 'replay');
    assert.equal(done.attempts, 1);
    assert.deepEqual(done.stats, stats);
  });
});
