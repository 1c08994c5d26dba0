import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { webhookCreateRequest } from '@psc/contracts';
import { notificationOf, type WebhookSourceEvent } from '../src/domain/webhook-events.ts';
import { afterAttempt, disableReason, retryDelayMs } from '../src/domain/webhook-retry.ts';

const policy = { maxAttempts: 4, retryBaseMs: 1_000, retryMaxMs: 60_000, disableAfter: 3 };
const failure = { statusCode: 500, latencyMs: 3, error: 'h answered 500' };
const now = new Date('2030-01-01T00:00:00.000Z');

const event = (type: string, payload: Record<string, unknown>) =>
  ({
    id: randomUUID(),
    type,
    version: 1,
    occurredAt: now.toISOString(),
    correlationId: randomUUID(),
    payload,
  }) as unknown as WebhookSourceEvent;

describe('webhook retries', () => {
  it('when many deliveries fail at once, then their retries spread over the whole backoff window (full jitter), never past its ceiling', () => {
    for (const attempt of [1, 2, 3, 10]) {
      const ceiling = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** (attempt - 1));
      const delays = Array.from({ length: 2_000 }, () => retryDelayMs(attempt, policy));
      assert.ok(
        delays.every((d) => d >= 1 && d <= ceiling),
        `attempt ${attempt} within ceiling`,
      );
      const buckets = new Set(delays.map((d) => Math.floor((d / ceiling) * 10)));
      assert.ok(buckets.size >= 9, `attempt ${attempt} covers the window: ${buckets.size}/10`);
    }
  });

  it('when an attempt fails, then the delivery waits for another until attempts run out, and a 2xx ends it', () => {
    const retry = afterAttempt(1, failure, now, policy, () => 0.5);
    assert.equal(retry.status, 'pending');
    assert.equal(retry.nextAttemptAt?.getTime(), now.getTime() + 500);
    assert.deepEqual(afterAttempt(4, failure, now, policy), {
      status: 'failed',
      nextAttemptAt: null,
    });
    assert.deepEqual(afterAttempt(2, { ...failure, statusCode: 204, error: null }, now, policy), {
      status: 'succeeded',
      nextAttemptAt: null,
    });
    const redirect = afterAttempt(1, { ...failure, statusCode: 302 }, now, policy);
    assert.equal(redirect.status, 'pending', 'a redirect is not success');
  });

  it('when failures in a row reach the limit, then the reason names the count and the last answer', () => {
    assert.equal(disableReason(2, failure, policy), undefined);
    assert.match(disableReason(3, failure, policy) ?? '', /3 failed delivery attempts.*HTTP 500/);
    const timeout = { statusCode: null, latencyMs: 10, error: 'h did not answer within 10 ms' };
    assert.match(disableReason(3, timeout, policy) ?? '', /did not answer/);
  });
});

describe('webhook events', () => {
  const platformId = randomUUID();

  it('when the ledger dead-letters a job, then dead becomes job.dead and failed becomes job.failed', () => {
    const payload = { jobId: randomUUID(), status: 'dead', platformId };
    assert.equal(notificationOf(event('job.dead-lettered', payload))?.type, 'job.dead');
    const failed = notificationOf(event('job.dead-lettered', { ...payload, status: 'failed' }));
    assert.equal(failed?.type, 'job.failed');
    assert.equal(failed?.data.status, undefined, 'the type says it');
    assert.equal(failed?.occurredAt, now.toISOString());
  });

  it('when a breaker changes state, then only an opening notifies', () => {
    const base = { platformId, workerId: 'w1', at: now.toISOString() };
    assert.equal(
      notificationOf(event('breaker.state-changed', { ...base, state: 'open' }))?.type,
      'breaker.opened',
    );
    for (const state of ['closed', 'half-open']) {
      assert.equal(notificationOf(event('breaker.state-changed', { ...base, state })), undefined);
    }
  });

  it('when drift is found or a schedule pauses itself, then the payload goes out under the webhook type', () => {
    const drift = { jobId: randomUUID(), platformId, resource: 'r', autoHeal: false };
    assert.deepEqual(notificationOf(event('validation.drift_detected', drift))?.data, drift);
    const pause = { platformId, resource: 'r', taskType: 'sync', reason: 'x', at: '' };
    assert.equal(
      notificationOf(event('schedule.auto-paused', pause))?.type,
      'schedule.auto_paused',
    );
  });
});

describe('webhook requests', () => {
  const ok = { url: 'https://hooks.test/x', events: ['job.dead'] };

  it('when a secret is supplied, then it must be whsec_ and base64 of 24 to 64 bytes', () => {
    const of = (n: number) => `whsec_${Buffer.alloc(n, 7).toString('base64')}`;
    assert.ok(webhookCreateRequest.safeParse({ ...ok, secret: of(32) }).success);
    for (const secret of [of(16), of(65), 'hunter2', `whsec_${'!'.repeat(40)}`]) {
      assert.equal(webhookCreateRequest.safeParse({ ...ok, secret }).success, false, secret);
    }
  });

  it('when events are empty, repeated or unknown, then the request is refused', () => {
    for (const events of [[], ['job.dead', 'job.dead'], ['job.exploded']]) {
      assert.equal(webhookCreateRequest.safeParse({ ...ok, events }).success, false);
    }
  });
});
