import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { EXCHANGES, HEADERS, QUEUES } from '@psc/contracts';
import { NonRetryableError } from '@psc/core';
import {
  createManagementApi,
  DeferError,
  managementPath,
  PublishRefusedError,
  type FailureDecision,
} from '@psc/messaging';
import { startInfra, waitFor } from '@psc/testing';
import { createFixture, headerText } from './support/fixture.ts';
import { ping, pingEnvelope, TEST_TIERS_MS, WORK_QUEUE, workQueue } from './support/messages.ts';

interface Delivery {
  attempt: number;
  header: unknown;
  at: number;
}

const DLQ = QUEUES.deadLetter(WORK_QUEUE);
const retryQueues = TEST_TIERS_MS.map((ms) => QUEUES.retry(WORK_QUEUE, ms));

/** What the consumer decided, as the first release's hook reported it. */
const outcomeOf = (d: FailureDecision) =>
  d.kind === 'retry' ? 'retrying' : d.kind === 'give-up' ? 'dead' : 'deferred';

describe('retries', { concurrency: true, timeout: 30_000 }, () => {
  it('when the handler keeps throwing a retryable error, then the message comes back through growing delays and is dead-lettered after maxAttempts', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const deliveries: Delivery[] = [];
    const failures: [string, number, string][] = [];
    const { events } = await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 4,
      retryTiersMs: TEST_TIERS_MS,
      // The longest step of each tier, so the tiers themselves can be seen (jitter: below).
      random: () => 0.999,
      handler: (_envelope, ctx) => {
        deliveries.push({
          attempt: ctx.attempt,
          header: ctx.headers[HEADERS.attempt],
          at: performance.now(),
        });
        return Promise.reject(new Error('platform is down'));
      },
      onFailure: (_envelope, err, outcome, ctx) => {
        failures.push([outcomeOf(outcome), ctx.attempt, (err as Error).message]);
        return Promise.resolve();
      },
    });
    const envelope = pingEnvelope(1);

    await publisher.publish(EXCHANGES.events, ping.type, envelope);

    const [dead] = await raw.take(DLQ, 1);
    await waitFor(() => events.some((e) => e.name === 'dead-lettered'), {
      message: 'dead-lettered event',
    });
    assert.ok(dead);
    assert.equal(dead.properties.messageId, envelope.id);
    assert.match(headerText(dead, HEADERS.deadReason) ?? '', /platform is down/);
    assert.equal(headerText(dead, HEADERS.attempt), '4');
    assert.deepEqual(
      deliveries.map((d) => [d.attempt, d.header]),
      [
        [1, undefined],
        [2, 2],
        [3, 3],
        [4, 4],
      ],
    );
    assert.deepEqual(failures, [
      ['retrying', 1, 'platform is down'],
      ['retrying', 2, 'platform is down'],
      ['retrying', 3, 'platform is down'],
      ['dead', 4, 'platform is down'],
    ]);
    assert.deepEqual(
      events.map((e) => e.name),
      ['retried', 'retried', 'retried', 'dead-lettered'],
    );
    const gaps = deliveries.slice(1).map((d, i) => d.at - (deliveries[i]?.at ?? 0));
    gaps.forEach((gap, i) => {
      const tier = TEST_TIERS_MS[i] ?? 0;
      assert.ok(
        gap >= tier * 0.9,
        `retry ${i + 1} came after ${gap} ms, before its ${tier} ms tier`,
      );
    });
    assert.ok(
      (gaps[0] ?? 0) < (gaps[1] ?? 0) && (gaps[1] ?? 0) < (gaps[2] ?? 0),
      `delays should grow: ${gaps.map((g) => Math.round(g)).join(', ')} ms`,
    );
    for (const queue of [WORK_QUEUE, DLQ, ...retryQueues]) {
      assert.equal((await raw.inspect(queue)).messageCount, 0, `${queue} is empty`);
    }
  });

  it('when the handler throws a NonRetryableError, then the message is dead-lettered on the first attempt', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const attempts: number[] = [];
    const failures: [string, number][] = [];
    await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 4,
      retryTiersMs: TEST_TIERS_MS,
      handler: (_envelope, ctx) => {
        attempts.push(ctx.attempt);
        return Promise.reject(new NonRetryableError('platform_gone', 'the platform was deleted'));
      },
      onFailure: (_envelope, _err, outcome, ctx) => {
        failures.push([outcomeOf(outcome), ctx.attempt]);
        return Promise.resolve();
      },
    });
    const envelope = pingEnvelope(1);

    await publisher.publish(EXCHANGES.events, ping.type, envelope);

    const [dead] = await raw.take(DLQ, 1);
    assert.ok(dead);
    assert.equal(dead.properties.messageId, envelope.id);
    assert.equal(headerText(dead, HEADERS.deadReason), 'platform_gone: the platform was deleted');
    assert.deepEqual(attempts, [1]);
    assert.deepEqual(failures, [['dead', 1]]);
    for (const queue of [WORK_QUEUE, ...retryQueues]) {
      assert.equal((await raw.inspect(queue)).messageCount, 0, `${queue} is empty`);
    }
  });

  it('when the handler throws a DeferError, then the message is redelivered later without counting an attempt', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const deliveries: Delivery[] = [];
    const decisions: string[] = [];
    // More deferrals than maxAttempts allows tries: deferring must never exhaust them.
    const { events } = await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 2,
      retryTiersMs: TEST_TIERS_MS,
      random: () => 0.999,
      handler: (_envelope, ctx) => {
        deliveries.push({
          attempt: ctx.attempt,
          header: ctx.headers[HEADERS.attempt],
          at: performance.now(),
        });
        return deliveries.length <= 3
          ? Promise.reject(new DeferError('breaker open', 100))
          : Promise.resolve();
      },
      onFailure: (_envelope, _err, decision) => {
        decisions.push(decision.kind);
        return Promise.resolve();
      },
    });
    const envelope = pingEnvelope(1);

    await publisher.publish(EXCHANGES.events, ping.type, envelope);

    await waitFor(() => events.some((e) => e.name === 'acked'), {
      message: 'acked after deferrals',
    });
    assert.deepEqual(
      deliveries.map((d) => [d.attempt, d.header]),
      [
        [1, undefined],
        [1, 1],
        [1, 1],
        [1, 1],
      ],
    );
    assert.deepEqual(
      events.map((e) => e.name),
      ['deferred', 'deferred', 'deferred', 'acked'],
    );
    assert.deepEqual(decisions, ['defer', 'defer', 'defer'], 'a deferral never uses an attempt');
    const firstTier = TEST_TIERS_MS[0];
    deliveries.slice(1).forEach((d, i) => {
      const gap = d.at - (deliveries[i]?.at ?? 0);
      assert.ok(gap >= firstTier * 0.9, `deferral ${i + 1} came back after only ${gap} ms`);
    });
    for (const queue of [WORK_QUEUE, DLQ, ...retryQueues]) {
      assert.equal((await raw.inspect(queue)).messageCount, 0, `${queue} is empty`);
    }
  });

  it('when the handler keeps deferring with backoff (a platform whose request slots stay taken), then each deferral waits twice as long as the one before, up to 8 times the first, and any other deferral starts the count over', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const deliveries: { deferrals: unknown; at: number }[] = [];
    const decisions: { delayMs: number; deferrals: number | undefined }[] = [];
    // Deliveries 1–5 and 7 find the slots taken, 6 meets an open breaker, 8 runs.
    const backoff = new Set([1, 2, 3, 4, 5, 7]);
    const { events } = await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 2,
      retryTiersMs: TEST_TIERS_MS,
      random: () => 0.999,
      handler: (_envelope, ctx) => {
        deliveries.push({ deferrals: ctx.headers[HEADERS.deferrals], at: performance.now() });
        const n = deliveries.length;
        if (n === 8) return Promise.resolve();
        return Promise.reject(
          backoff.has(n)
            ? new DeferError('slots taken', 50, { backoff: true })
            : new DeferError('breaker open', 50),
        );
      },
      onFailure: (_envelope, _err, decision) => {
        if (decision.kind === 'defer') {
          decisions.push({ delayMs: decision.delayMs, deferrals: decision.deferrals });
        }
        return Promise.resolve();
      },
    });

    await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(1));

    await waitFor(() => events.some((e) => e.name === 'acked'), {
      message: 'acked after the deferrals',
      timeoutMs: 15_000,
    });
    // The test ladder's delays (tiers 200, 500, 1000 ms): the longest in [d, 2d] of each
    // doubled delay d (random 0.999), so 50, 100, 200, 400, then 400 again (capped).
    assert.deepEqual(decisions, [
      { delayMs: 100, deferrals: 1 },
      { delayMs: 200, deferrals: 2 },
      { delayMs: 375, deferrals: 3 },
      { delayMs: 750, deferrals: 4 },
      { delayMs: 750, deferrals: 5 },
      { delayMs: 100, deferrals: undefined },
      { delayMs: 100, deferrals: 1 },
    ]);
    assert.deepEqual(
      deliveries.map((d) => d.deferrals),
      [undefined, 1, 2, 3, 4, 5, undefined, 1],
    );
    decisions.forEach((d, i) => {
      const gap = (deliveries[i + 1]?.at ?? 0) - (deliveries[i]?.at ?? 0);
      assert.ok(
        gap >= d.delayMs * 0.9,
        `deferral ${i + 1} came back after ${gap} ms, not ${d.delayMs}`,
      );
    });
  });

  it('when many deliveries fail at once, then their retries come back spread over the whole tier (full jitter), not all at the same moment', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const TIER = 1_600;
    const first = new Map<number, number>();
    const back: number[] = [];
    await fx.consumer({
      broker,
      queue: spec,
      prefetch: 50,
      maxAttempts: 2,
      retryTiersMs: [TIER],
      handler: (envelope, ctx) => {
        const n = ping.payload.parse(envelope.payload).n;
        if (ctx.attempt === 1) {
          first.set(n, performance.now());
          return Promise.reject(new Error('platform is down'));
        }
        back.push(performance.now() - first.get(n)!);
        return Promise.resolve();
      },
    });

    await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(n)),
      ),
    );
    await waitFor(() => back.length === 40, { timeoutMs: 15_000, message: 'every retry back' });

    // Steps of a 1.6 s tier are 0.2 s apart: 40 draws land in many of them.
    const steps = new Set(back.map((ms) => Math.round(ms / (TIER / 8))));
    assert.ok(
      steps.size >= 4,
      `retries should spread over the tier, came back in ${steps.size} steps`,
    );
    assert.ok(
      Math.min(...back) < TIER / 2,
      `some come back early: ${Math.round(Math.min(...back))} ms`,
    );
    assert.ok(
      Math.max(...back) > TIER / 2,
      `some come back late: ${Math.round(Math.max(...back))} ms`,
    );
    assert.ok(Math.max(...back) < TIER + 1_000, 'none later than the tier');
  });
  it('when a delivery is held because the database is away, then it comes back neither as a redelivery nor as a spent attempt, so it never counts as a crash', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const seen: { attempt: number; redelivered: boolean }[] = [];
    const unavailable = new Error('database unavailable');
    const { events } = await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 2,
      isTransient: (err) => err === unavailable,
      handler: (_envelope, ctx) => {
        seen.push({ attempt: ctx.attempt, redelivered: ctx.redelivered });
        return seen.length <= 3 ? Promise.reject(unavailable) : Promise.resolve();
      },
    });

    await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(1));

    await waitFor(() => events.length === 4, {
      timeoutMs: 15_000,
      message: 'acked after the holds',
    });
    // A held copy is back in the queue before its `held` event fires: compare without order.
    assert.deepEqual(events.map((e) => e.name).sort(), ['acked', 'held', 'held', 'held']);
    assert.deepEqual(seen, [
      { attempt: 1, redelivered: false },
      { attempt: 1, redelivered: false },
      { attempt: 1, redelivered: false },
      { attempt: 1, redelivered: false },
    ]);
  });

  it('when the broker refuses what a handler or its failure report publishes (a nack), then the delivery is held — no attempt spent, nothing given up — and handled once the broker takes messages again', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const seen: number[] = [];
    const refused = () => new PublishRefusedError(EXCHANGES.events, 'job.progressed');
    const { events } = await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 2,
      handler: (_envelope, ctx) => {
        seen.push(ctx.attempt);
        // Twice the handler's own publish is refused, then it fails and its report is refused.
        if (seen.length <= 2) return Promise.reject(refused());
        if (seen.length === 3) return Promise.reject(new Error('platform answered 503'));
        return Promise.resolve();
      },
      onFailure: () => (seen.length === 3 ? Promise.reject(refused()) : Promise.resolve()),
    });

    await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(1));

    await waitFor(() => events.some((e) => e.name === 'acked'), {
      timeoutMs: 15_000,
      message: 'acked after the holds',
    });
    assert.deepEqual(events.map((e) => e.name).sort(), ['acked', 'held', 'held', 'held']);
    assert.deepEqual(seen, [1, 1, 1, 1], 'no attempt spent');
  });

  it('when a held delivery cannot be put back because its queue refuses publishes, then the broker requeues it (reported lost, so not a crash) and it is handled again, instead of staying unacked until its channel closes', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const api = createManagementApi((await startInfra()).managementUrl);
    const policy = managementPath('policies', fx.env.vhost, 'refuse-work');
    const refuse = async () => {
      await api.put(policy, {
        pattern: `^${WORK_QUEUE}$`,
        definition: { 'max-length': 0, overflow: 'reject-publish' },
        'apply-to': 'queues',
        priority: 10,
      });
      await waitFor(
        async () =>
          (await api.get<{ policy?: string }>(managementPath('queues', fx.env.vhost, WORK_QUEUE)))
            .policy === 'refuse-work',
        { message: 'the policy in effect' },
      );
    };
    const unavailable = new Error('database unavailable');
    const seen: { attempt: number; redelivered: boolean }[] = [];
    let lost = 0;
    const { events } = await fx.consumer({
      broker,
      queue: spec,
      maxAttempts: 2,
      isTransient: (err) => err === unavailable,
      onDeliveryLost: () => (lost += 1),
      handler: async (_envelope, ctx) => {
        seen.push({ attempt: ctx.attempt, redelivered: ctx.redelivered });
        if (seen.length > 1) return;
        // Held (its database away) while its queue refuses what would put it back.
        await refuse();
        throw unavailable;
      },
    });

    await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(1));
    await waitFor(() => seen.length >= 2, { timeoutMs: 15_000, message: 'handled again' });
    await api.delete(policy);

    await waitFor(() => events.some((e) => e.name === 'acked'), { message: 'acked' });
    assert.deepEqual(seen, [
      { attempt: 1, redelivered: false },
      { attempt: 1, redelivered: true },
    ]);
    assert.equal(lost, 1, 'reported lost before it came back, so not counted as a crash');
  });
});
