import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  EXCHANGES,
  QUEUES,
  QUEUE_SPECS,
  MAX_PARAMS_BYTES,
  REDACTED,
  dlqDelete,
  dlqGet,
  dlqList,
  dlqReplay,
  DLQ_REPLAY_MAX,
  jobFailed,
  jobGet,
  jobProgressed,
  jobRun,
  jobStarted,
  jobSucceeded,
  type Job,
  type PayloadOf,
  type TaskType,
} from '@psc/contracts';
import { createEnvelope } from '@psc/messaging';
import { AppError } from '@psc/core';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary, runNow } from './support.ts';

const stats = { fetched: 3, inserted: 3, updated: 0, unchanged: 0, deleted: 0 };
const boom = { message: 'platform answered HTTP 500', class: 'upstream_status' };

describe('job ledger: batched reports, dead-letter queue and replay', { timeout: 120_000 }, () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  const platform = platformSummary({
    resources: [
      { name: 'booths', tasks: ['sync'] },
      { name: 'races', tasks: ['collect'] },
      { name: 'cards', tasks: ['collect'], params: ['date'] },
    ],
  });
  const many = platformSummary({
    resources: Array.from({ length: 1_000 }, (_, i) => ({ name: `r${i}`, tasks: ['sync'] })),
  });
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-ledger', clock);
    await s.mq.announce(platform);
    await s.mq.announce(many);
    await s.waitForPlatform(platform.id);
    await s.waitForPlatform(many.id);
  });
  after(async () => {
    await s?.stop();
  });

  /** Publishes a report as a worker would. */
  const send: typeof s.mq.publish = (def, payload) => s.mq.publish(def, payload);
  const at = () => clock.advance(1_000).toISOString();
  const until = (id: string, test: (job: Job) => boolean, message: string) =>
    waitFor(
      async () => {
        const job = await s.rpc.call(jobGet, { id });
        return test(job) ? job : undefined;
      },
      { message },
    );
  const runOne = async (taskType: TaskType, resource: string) =>
    (
      await runNow(s.rpc, {
        taskType,
        platformId: platform.id,
        resource,
        params: {},
      })
    ).jobs[0]!.id;
  /** Reports a run that failed `attempts` times and ended dead. */
  async function kill(jobId: string, run = 1, attempts = 4): Promise<void> {
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      await send(jobStarted, { jobId, run, attempt, at: at(), workerId: 'w1' });
      const outcome = attempt < attempts ? 'retrying' : 'dead';
      await send(jobFailed, { jobId, run, attempt, at: at(), error: boom, outcome });
    }
    await until(jobId, (j) => j.status === 'dead' && j.run === run, `run ${run} dead`);
  }

  it('when a dead job is replayed, then it is queued as its next run with a job.run of that run, the old run’s stragglers are ignored, and the new run ends it', async () => {
    const jobs = await s.mq.consumeJobs();
    const jobId = await runOne('sync', 'booths');
    await kill(jobId);
    const dead = (await s.rpc.call(dlqList, { limit: 50 })).items.find((d) => d.jobId === jobId);
    assert.ok(dead, 'the dead job is in the dead-letter queue');
    assert.equal(dead.run, 1);
    assert.equal(dead.attempts, 4);
    assert.equal(dead.replayable, true);
    assert.match(dead.reason, /upstream_status: platform answered HTTP 500/);

    const { replayed } = await s.rpc.call(dlqReplay, { jobId });
    assert.deepEqual(replayed, [jobId]);
    const queued = await s.rpc.call(jobGet, { id: jobId });
    assert.deepEqual(
      [queued.status, queued.run, queued.trigger, queued.attempts, queued.error],
      ['queued', 2, 'replay', 0, null],
    );
    const command = await waitFor(() =>
      jobs.received.find((j) => j.payload.jobId === jobId && j.payload.run === 2),
    );
    assert.equal(command.payload.trigger, 'replay');
    assert.equal(
      (await s.rpc.call(dlqList, { limit: 50 })).items.some((d) => d.jobId === jobId),
      false,
    );

    // Stragglers of run 1 must not move run 2.
    await send(jobFailed, { jobId, run: 1, attempt: 4, at: at(), error: boom, outcome: 'dead' });
    await send(jobStarted, { jobId, run: 2, attempt: 1, at: at(), workerId: 'w2' });
    await until(jobId, (j) => j.status === 'running', 'run 2 running');
    await send(jobSucceeded, { jobId, run: 2, attempt: 1, at: at(), stats });
    const done = await until(jobId, (j) => j.status === 'succeeded', 'run 2 succeeded');
    assert.deepEqual([done.run, done.attempts, done.stats], [2, 1, stats]);
    await jobs.stop();
  });

  it('when a dead job was purged from the ledger, then replaying it is 404 naming the retention and its letter stays, and a filtered replay runs the others and keeps it', async () => {
    const purged = await runOne('sync', 'booths');
    const other = await runOne('sync', 'booths');
    await kill(purged);
    await kill(other);
    // What the retention purge does to a finished job older than PSC_JOB_RETENTION_DAYS.
    await s.jobs().where({ id: purged }).delete();

    await assert.rejects(s.rpc.call(dlqReplay, { jobId: purged }), (err: Error) => {
      assert.match(err.message, /purged from the ledger \(PSC_JOB_RETENTION_DAYS\)/);
      return true;
    });
    const letters = async () =>
      (await s.rpc.call(dlqList, { limit: 200, platformId: platform.id })).items.map(
        (d) => d.jobId,
      );
    assert.ok((await letters()).includes(purged), 'the letter stays after the refused replay');

    const { replayed } = await s.rpc.call(dlqReplay, { platformId: platform.id });
    assert.ok(replayed.includes(other), 'the other dead job is replayed');
    assert.ok(!replayed.includes(purged), 'nothing is replayed for the purged job');
    assert.deepEqual(await letters(), [purged], 'only the purged job’s letter is left');
    await s.rpc.call(dlqDelete, { jobId: purged });
    assert.deepEqual(await letters(), []);
  });

  it('when a filter matches more dead jobs than one replay takes, then the call replays the oldest DLQ_REPLAY_MAX with more: true, and the next call the rest with more: false', async () => {
    const reason = `bulk replay ${randomUUID()}`;
    const count = DLQ_REPLAY_MAX + 1;
    // Dead jobs written as the ledger writes them, in one statement: dying one by one through
    // worker events would take minutes. The newest is the one left for the second call.
    await s.knex.raw(
      `with dead as (
         insert into scheduler.jobs (id, platform_id, resource, task_type, status, priority,
                trigger, attempts, run, error, created_at, finished_at, updated_at)
         select gen_random_uuid(), ?, 'booths', 'sync', 'dead', 5, 'api', 4, 1,
                jsonb_build_object('class', 'upstream_status', 'message', 'HTTP 500'),
                t, t, t
           from generate_series(1, ?) as g,
                lateral (select now() - interval '1 day' + g * interval '1 ms' as t) as at
         returning id, platform_id, resource, task_type, finished_at)
       insert into scheduler.dead_letters
              (id, job_id, run, platform_id, resource, task_type, queue, reason, attempts, dead_at)
       select id, id, 1, platform_id, resource, task_type, 'sync-worker.jobs', ?, 4, finished_at
         from dead`,
      [platform.id, count, reason],
    );
    const newest = ((await s.rpc.call(dlqList, { limit: 1, reason })).items[0] as { jobId: string })
      .jobId;

    const first = await s.rpc.call(dlqReplay, { reason });
    assert.equal(first.replayed.length, DLQ_REPLAY_MAX);
    assert.equal(first.more, true, 'more match than one call replays');
    assert.ok(!first.replayed.includes(newest), 'the oldest go first');
    const second = await s.rpc.call(dlqReplay, { reason });
    assert.deepEqual(second, { replayed: [newest], more: false });
    assert.deepEqual((await s.rpc.call(dlqList, { limit: 1, reason })).items, []);
    const queued = await s
      .jobs()
      .whereIn('id', [...first.replayed, newest])
      .where({ status: 'queued', run: 2, trigger: 'replay' })
      .count<{ n: string }[]>('* as n');
    assert.equal(Number(queued[0]?.n), count, 'each replayed job queued as its next run');
  });

  it('when jobs of every task type die, then the dead-letter queue lists each with its task type, filters by it, and a dead collect job replays onto the collector queue', async () => {
    const collects = await s.mq.consumeJobs(100, QUEUE_SPECS.collectorJobs);
    const syncId = await runOne('sync', 'booths');
    const collectId = await runOne('collect', 'races');
    await kill(syncId);
    await send(jobFailed, {
      jobId: collectId,
      run: 1,
      attempt: 1,
      at: at(),
      error: { class: 'children_failed', message: '2 of 10 children failed (8 succeeded)' },
      outcome: 'failed',
    });
    await until(collectId, (j) => j.status === 'failed', 'collect job failed');

    const onlyCollect = await s.rpc.call(dlqList, { limit: 50, taskType: 'collect' });
    assert.deepEqual(
      onlyCollect.items.map((d) => [d.jobId, d.taskType, d.queue]),
      [[collectId, 'collect', QUEUES.collectorJobs]],
    );
    const all = await s.rpc.call(dlqList, { limit: 50, platformId: platform.id });
    assert.ok(all.items.some((d) => d.jobId === syncId && d.taskType === 'sync'));

    await s.rpc.call(dlqReplay, { taskType: 'collect' });
    const command = await waitFor(() =>
      collects.received.find((j) => j.payload.jobId === collectId && j.payload.run === 2),
    );
    assert.deepEqual([command.payload.run, command.payload.taskType], [2, 'collect']);
    assert.equal((await s.rpc.call(jobGet, { id: collectId })).status, 'queued');

    assert.deepEqual(await s.rpc.call(dlqDelete, { jobId: syncId }), { deleted: 1 });
    await assert.rejects(s.rpc.call(dlqReplay, { jobId: syncId }), { status: 404 });
    await collects.stop();
  });

  it('when a dead collect job is replayed with mended params, then they are merged into its own for the next run (null removes one, a secret stays); [redacted], too big or lacking a declared param is refused (422) and it stays dead', async () => {
    const collects = await s.mq.consumeJobs(100, QUEUE_SPECS.collectorJobs);
    const own = { date: '2030-01-01', region: 'eu', token: 's3cret' };
    const { jobs } = await runNow(s.rpc, {
      taskType: 'collect',
      platformId: platform.id,
      resource: 'cards',
      params: own,
    });
    const jobId = jobs[0]!.id;
    await send(jobFailed, {
      jobId,
      run: 1,
      attempt: 1,
      at: at(),
      error: { class: 'upstream_status', message: 'platform answered HTTP 404' },
      outcome: 'failed',
    });
    await until(jobId, (j) => j.status === 'failed', 'collect job failed');

    const refused = async (params: Record<string, unknown>, message: RegExp, path: string) => {
      await assert.rejects(
        s.rpc.call(dlqReplay, { jobId, params }),
        (err: unknown) =>
          err instanceof AppError &&
          err.status === 422 &&
          message.test(err.message) &&
          JSON.stringify(err.details).includes(path),
      );
    };
    // The declared param removed (null), a dead letter's placeholder sent back as a value, and
    // params that only fit alone: each refused, naming where.
    await refused({ date: null, day: '20300101' }, /needs params: date/, 'body.params.date');
    await refused({ token: REDACTED }, /\[redacted\]/, 'body.params.token');
    // Alone it fits the bound (the contract would refuse it otherwise); merged, it does not.
    await refused({ note: 'x'.repeat(MAX_PARAMS_BYTES - 40) }, /bytes/, 'body.params');
    const still = await s.rpc.call(jobGet, { id: jobId });
    // The ledger shows the token as it shows every secret; the job keeps its value (below).
    assert.deepEqual(
      [still.status, still.run, still.params],
      ['failed', 1, { ...own, token: REDACTED }],
    );
    assert.ok(
      (await s.rpc.call(dlqList, { limit: 50, taskType: 'collect' })).items.some(
        (d) => d.jobId === jobId,
      ),
      'still in the dead-letter queue',
    );

    const { replayed } = await s.rpc.call(dlqReplay, {
      jobId,
      params: { date: '20300101', region: null },
    });
    assert.deepEqual(replayed, [jobId]);
    const mended = { date: '20300101', token: 's3cret' };
    const command = await waitFor(() =>
      collects.received.find((j) => j.payload.jobId === jobId && j.payload.run === 2),
    );
    assert.deepEqual(command.payload.params, mended);
    const queued = await s.rpc.call(jobGet, { id: jobId });
    assert.deepEqual(
      [queued.status, queued.run, queued.trigger, queued.params],
      ['queued', 2, 'replay', { ...mended, token: REDACTED }],
    );
    await collects.stop();
  });

  it('when a job.run nobody can read names its job, then the ledger fails that job as poison and it can be replayed', async () => {
    const jobId = await runOne('sync', 'booths');
    const channel = s.mq.broker.createChannel('test.poison', () => Promise.resolve());
    try {
      // What a worker parks: a job.run outside its contract (here: no resource).
      const body = {
        ...createEnvelope(jobRun, {
          jobId,
          run: 1,
          platformId: platform.id,
          resource: 'booths',
          taskType: 'sync',
          priority: 5,
          trigger: 'api',
          params: {},
        }),
      };
      delete (body.payload as Partial<PayloadOf<typeof jobRun>>).resource;
      await channel.publish(
        EXCHANGES.deadLetter,
        QUEUES.syncJobs,
        Buffer.from(JSON.stringify(body)),
        {
          headers: {
            'x-psc-dead-reason': 'poison_message: job.run fails its contract at payload.resource',
          },
        },
      );
    } finally {
      await channel.close();
    }
    const failed = await until(jobId, (j) => j.status === 'dead', 'poison job failed');
    assert.equal(failed.error?.class, 'poison_message');
    const letter = (await s.rpc.call(dlqList, { limit: 50, reason: 'poison_message' })).items;
    assert.deepEqual(
      letter.map((d) => [d.jobId, d.replayable]),
      [[jobId, true]],
    );
  });

  it('when the ledger cannot take a dead letter for a while, then the letter is put back and recorded once it can, and letters behind it are too', async () => {
    // Statements that failed in this test's database: each try at a letter meanwhile is one.
    const failures = async () =>
      Number(
        (
          await s.knex.raw<{ rows: { n: string }[] }>(
            'select xact_rollback as n from pg_stat_database where datname = current_database()',
          )
        ).rows[0]!.n,
      );
    const failedBefore = await failures();
    // The table away (as when the database is): every insert of a letter fails meanwhile.
    await s.knex.raw('alter table scheduler.dead_letters rename to dead_letters_away');
    const ids = [randomUUID(), randomUUID()];
    const channel = s.mq.broker.createChannel('test.poison-held', () => Promise.resolve());
    try {
      for (const messageId of ids) {
        await channel.publish(EXCHANGES.deadLetter, QUEUES.syncJobs, Buffer.from('not json'), {
          messageId,
          headers: { 'x-psc-dead-reason': 'poison_message: body is not JSON' },
        });
      }
    } finally {
      await channel.close();
    }
    await waitFor(async () => (await failures()) >= failedBefore + 2, {
      message: 'both letters tried while the table was away',
    });
    await s.knex.raw('alter table scheduler.dead_letters_away rename to dead_letters');

    const letters = await waitFor(
      async () => {
        const items = (await s.rpc.call(dlqList, { limit: 50, reason: 'poison_message' })).items;
        const mine = items.filter((d) => d.reason === 'poison_message: body is not JSON');
        return mine.length === 2 ? mine : undefined;
      },
      { timeoutMs: 20_000, message: 'both letters recorded once the ledger could take them' },
    );
    assert.equal(letters.length, 2);
  });

  it('when a dead job and a poison message carry secrets, then dlq.get shows their headers and payload with every secret redacted, and 404 for an unknown id', async () => {
    const params = {
      since: '2026-01-01',
      apiKey: 'sk-job-secret-1',
      upstream: { url: 'https://robot:pw-secret-2@api.example/x', authorization: 'x' },
    };
    const { jobs } = await runNow(s.rpc, {
      taskType: 'sync',
      platformId: platform.id,
      resource: 'booths',
      params,
    });
    const jobId = jobs[0]!.id;
    await kill(jobId);
    const dead = await s.rpc.call(dlqGet, { jobId });
    assert.equal(dead.error?.class, 'upstream_status');
    assert.equal(dead.message?.type, 'job.run');
    assert.equal(dead.message?.headers['x-psc-attempt'], 4);
    const run = dead.message?.payload as { payload: { jobId: string; params: typeof params } };
    assert.equal(run.payload.jobId, jobId);
    assert.deepEqual(run.payload.params, {
      since: '2026-01-01',
      apiKey: REDACTED,
      upstream: { url: 'https://***@api.example/x', authorization: REDACTED },
    });

    const channel = s.mq.broker.createChannel('test.poison-secrets', () => Promise.resolve());
    const filler = 'x'.repeat(3_000);
    try {
      await channel.publish(
        EXCHANGES.deadLetter,
        QUEUES.syncJobs,
        Buffer.from(
          `{"type":"job.run","payload":{"params":{"password":"pw-secret-3","filler":"${filler}"}}}`,
        ),
        {
          messageId: 'poison-with-secrets',
          headers: {
            'x-psc-dead-reason': 'poison_message: body is cut',
            authorization: 'Bearer tok-secret-4',
            'x-note': 'Basic c2VjcmV0LTU=',
          },
        },
      );
    } finally {
      await channel.close();
    }
    const letter = await waitFor(async () =>
      (await s.rpc.call(dlqList, { limit: 50, reason: 'body is cut' })).items.at(0),
    );
    assert.equal(letter.jobId, null);
    const poison = await s.rpc.call(dlqGet, { jobId: letter.id });
    assert.equal(poison.message?.messageId, 'poison-with-secrets');
    assert.equal(poison.message?.truncated, true);
    assert.equal(poison.message?.headers.authorization, REDACTED);
    assert.equal(poison.message?.headers['x-note'], `Basic ${REDACTED}`);
    assert.match(String(poison.message?.payload), /^\{"type":"job.run".*"filler":"x+$/);
    const shown = JSON.stringify([dead, poison]);
    for (const secret of [
      'sk-job-secret-1',
      'pw-secret-2',
      'pw-secret-3',
      'tok-secret-4',
      'c2VjcmV0LTU',
    ]) {
      assert.ok(!shown.includes(secret), `${secret} is not shown`);
    }

    await assert.rejects(s.rpc.call(dlqGet, { jobId: randomUUID() }), { status: 404 });
  });

  it('when 1,000 jobs report at once (duplicated, progress included), then every job ends final with exactly one ledger row each, and the dead ones are in the dead-letter queue', async () => {
    const { jobs } = await runNow(s.rpc, {
      taskType: 'sync',
      platformId: many.id,
      params: {},
    });
    assert.equal(jobs.length, 1_000);
    const ids = jobs.map((j) => j.id);
    const reports: Promise<void>[] = [];
    ids.forEach((jobId, i) => {
      const when = at();
      reports.push(send(jobStarted, { jobId, run: 1, attempt: 1, at: when, workerId: 'w' }));
      reports.push(
        send(jobProgressed, {
          jobId,
          run: 1,
          attempt: 1,
          at: when,
          progress: { pages: 1, records: 3 },
        }),
      );
      const end =
        i % 10 === 0
          ? send(jobFailed, { jobId, run: 1, attempt: 1, at: at(), error: boom, outcome: 'failed' })
          : send(jobSucceeded, { jobId, run: 1, attempt: 1, at: at(), stats });
      reports.push(end);
      if (i % 7 === 0)
        reports.push(send(jobStarted, { jobId, run: 1, attempt: 1, at: when, workerId: 'w' }));
    });
    await Promise.all(reports);

    await waitFor(
      async () => {
        const rows = await s.jobs().whereIn('id', ids).select<{ status: string }[]>('status');
        return rows.every((r) => r.status === 'succeeded' || r.status === 'failed');
      },
      { timeoutMs: 60_000, message: 'every job final' },
    );
    const rows = await s
      .jobs()
      .whereIn('id', ids)
      .select<{ id: string; status: string; attempts: number; stats: unknown }[]>(
        'id',
        'status',
        'attempts',
        'stats',
      );
    assert.equal(rows.length, 1_000);
    assert.equal(new Set(rows.map((r) => r.id)).size, 1_000);
    assert.equal(rows.filter((r) => r.status === 'failed').length, 100);
    assert.ok(rows.every((r) => r.attempts === 1));
    assert.ok(rows.filter((r) => r.status === 'succeeded').every((r) => r.stats !== null));
    const dead = await s.knex
      .withSchema('scheduler')
      .table('dead_letters')
      .whereIn('job_id', ids)
      .count<{ n: string }[]>('* as n');
    assert.equal(Number(dead[0]?.n), 100);
  });
});
