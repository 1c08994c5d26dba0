import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook as Verifier } from 'standardwebhooks';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import {
  startWebhookReceiver,
  type ReceivedWebhook,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  consecutiveFailures: number;
  secret?: string;
}
interface DeliveryView {
  id: string;
  status: string;
  attempts: number;
  eventType: string;
  log: { attempt: number; statusCode: number | null; latencyMs: number; error: string | null }[];
}
interface Body {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

const DISABLE_AFTER = 3;
/**
 * Events no later test causes (the one schedule that pauses itself does so earlier), so the
 * subscriptions driven by test pings see nothing else.
 */
const QUIET = ['schedule.auto_paused'];

/** Checks a received POST as a receiver would: the Standard Webhooks signature, with the secret. */
function verified(secret: string, r: ReceivedWebhook): Body {
  const headers = {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  };
  return new Verifier(secret).verify(r.body, headers) as Body;
}

describe('webhooks through the public API', { timeout: 240_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  let receiver: WebhookReceiver;

  before(async () => {
    fake = await startFakePlatform();
    receiver = await startWebhookReceiver();
    system = await startSystem({
      name: 'webhooks',
      services: ['platform-registry'],
      env: {
        PSC_RETRY_TIERS_MS: '100,200,300',
        PSC_SCHEDULER_TICK_MS: '200',
        PSC_WEBHOOK_POLL_MS: '100',
        PSC_WEBHOOK_RETRY_BASE_MS: '200',
        PSC_WEBHOOK_RETRY_MAX_MS: '400',
        PSC_WEBHOOK_MAX_ATTEMPTS: '10',
        PSC_WEBHOOK_DISABLE_AFTER: String(DISABLE_AFTER),
        PSC_WEBHOOK_TIMEOUT_MS: '1000',
      },
    });
    // One at a time: on a busy machine four Node processes starting together can each take
    // longer than the readiness wait.
    for (const name of ['scheduler', 'sync-worker', 'gateway'] as const) await system.start(name);
  });
  after(async () => {
    await system?.stop();
    await receiver?.stop();
    await fake?.stop();
  });

  async function subscribe(path: string, events: string[], secret?: string) {
    const res = await system.api<WebhookView>('/api/v1/webhooks', {
      body: { url: `${receiver.url}${path}`, events, ...(secret ? { secret } : {}) },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.secret ?? '', /^whsec_[A-Za-z0-9+/]+=*$/);
    return res.body as WebhookView & { secret: string };
  }

  const deliveries = async (id: string) =>
    (await system.api<{ items: DeliveryView[] }>(`/api/v1/webhooks/${id}/deliveries`)).body.items;

  /** A platform whose one resource always answers 500, so every run of it dies. */
  async function deadJob(): Promise<string> {
    fake.setCollection('/orders', [{ code: 'a', qty: 1 }]);
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/orders' });
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `orders-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
        resources: [
          {
            name: 'orders',
            request: { path: '/orders' },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code', qty: 'qty' },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: created.body.id, resource: 'orders' },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    return run.body.jobs[0]!.id;
  }

  it('when a job dies, then a receiver subscribed to job.dead gets a signed job.dead delivery naming the job, and one that answered 500 gets it again with the same webhook-id', async () => {
    const steady = await subscribe('/steady', ['job.dead']);
    const flaky = await subscribe('/flaky', ['job.dead', 'breaker.opened']);
    receiver.answer('/flaky', (n) => (n === 1 ? 500 : 200));

    const jobId = await deadJob();

    const [got] = await waitFor(
      () => (receiver.at('/steady').length > 0 ? receiver.at('/steady') : undefined),
      { timeoutMs: 60_000, message: 'job.dead delivered' },
    );
    const body = verified(steady.secret, got!);
    assert.equal(body.type, 'job.dead');
    assert.equal(body.data.jobId, jobId);
    assert.equal(body.data.resource, 'orders');
    assert.equal(body.data.taskType, 'sync');
    assert.equal(body.data.attempts, 4);
    assert.deepEqual((body.data.error as { class: string }).class, 'upstream_status');
    assert.match(String(got!.headers['webhook-id']), /^msg_/);
    assert.throws(() => verified(flaky.secret, got!), 'signed with its own subscription’s secret');

    const [first, second] = await waitFor(
      () => (receiver.at('/flaky').length >= 2 ? receiver.at('/flaky') : undefined),
      { timeoutMs: 30_000, message: 'retry after the 500' },
    );
    assert.equal(first!.status, 500);
    assert.equal(second!.status, 200);
    assert.equal(second!.headers['webhook-id'], first!.headers['webhook-id']);
    assert.equal(verified(flaky.secret, second!).data.jobId, jobId);

    const log = await waitFor(
      async () => {
        const items = await deliveries(flaky.id);
        return items[0]?.status === 'succeeded' ? items : undefined;
      },
      { message: 'delivery log shows success' },
    );
    assert.equal(log.length, 1);
    assert.equal(log[0]!.id, first!.headers['webhook-id']);
    assert.equal(log[0]!.eventType, 'job.dead');
    assert.deepEqual(
      log[0]!.log.map((a) => [a.attempt, a.statusCode]),
      [
        [1, 500],
        [2, 200],
      ],
    );
    assert.ok(log[0]!.log.every((a) => a.latencyMs >= 0));
    const hook = (await system.api<WebhookView>(`/api/v1/webhooks/${flaky.id}`)).body;
    assert.equal(hook.consecutiveFailures, 0, 'the success ended the failure streak');
  });

  /** Registers a platform whose one resource, at `path`, answers with `fault`; returns its id. */
  async function failingPlatform(
    path: string,
    fault: { status: number },
    extra: Record<string, unknown>,
  ): Promise<string> {
    fake.setCollection(path, [{ code: 'a', qty: 1 }]);
    fake.setFault({ ...fault, body: { error: 'nope' } }, { path });
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `p-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources: [
          {
            name: path.slice(1),
            request: { path },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code', qty: 'qty' },
          },
        ],
        ...extra,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  it('when a scheduled sync fails for good twice in a row, then each run is delivered as job.failed and the schedule pausing itself as schedule.auto_paused with its reason', async () => {
    const hook = await subscribe('/paused', ['job.failed', 'schedule.auto_paused']);
    const platformId = await failingPlatform(
      '/gone',
      { status: 404 },
      { schedule: { sync: { enabled: true, intervalSeconds: 1, autoPauseAfterFailures: 2 } } },
    );

    const paused = await waitFor(
      () =>
        receiver
          .at('/paused')
          .map((r) => verified(hook.secret, r))
          .find((b) => b.type === 'schedule.auto_paused' && b.data.platformId === platformId),
      { timeoutMs: 60_000, message: 'schedule.auto_paused delivered' },
    );
    assert.equal(paused.data.resource, 'gone');
    assert.equal(paused.data.taskType, 'sync');
    assert.equal(paused.data.reason, 'paused after 2 failed runs in a row');
    // Each event is delivered on its own: the second failure may arrive after the pause.
    const failed = await waitFor(
      () => {
        const bodies = receiver
          .at('/paused')
          .map((r) => verified(hook.secret, r))
          .filter((b) => b.type === 'job.failed' && b.data.platformId === platformId);
        return bodies.length >= 2 ? bodies : undefined;
      },
      { timeoutMs: 30_000, message: 'two job.failed deliveries' },
    );
    assert.ok(failed.every((b) => b.data.trigger === 'schedule'));
  });

  it('when a platform’s breaker opens, then breaker.opened is delivered with the platform id', async () => {
    const hook = await subscribe('/breaker', ['breaker.opened']);
    const platformId = await failingPlatform(
      '/flapping',
      { status: 500 },
      { breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 } },
    );
    const run = await system.api('/api/v1/run/sync', {
      body: { platformId, resource: 'flapping' },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));

    const opened = await waitFor(
      () =>
        receiver
          .at('/breaker')
          .map((r) => verified(hook.secret, r))
          .find((b) => b.data.platformId === platformId),
      { timeoutMs: 60_000, message: 'breaker.opened delivered' },
    );
    assert.equal(opened.type, 'breaker.opened');
    assert.equal(typeof opened.data.workerId, 'string');
    assert.equal(opened.data.state, undefined, 'only openings are sent');
    // Let its job end well once the breaker half-opens, so no later job.dead comes from it.
    fake.setFault(null, { path: '/flapping' });
  });

  it('when a validation finds drift, then validation.drift_detected is delivered with the counts', async () => {
    const hook = await subscribe('/drift', ['validation.drift_detected']);
    fake.setCollection('/stock', [
      { code: 'a', qty: 1 },
      { code: 'b', qty: 2 },
    ]);
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `stock-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources: [
          {
            name: 'stock',
            tasks: ['sync', 'validate'],
            request: { path: '/stock' },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code', qty: 'qty' },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Never synced: both items are missing from psc's copy.
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/validate', {
      body: { platformId: created.body.id, resource: 'stock' },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));

    const [got] = await waitFor(
      () => (receiver.at('/drift').length > 0 ? receiver.at('/drift') : undefined),
      { timeoutMs: 60_000, message: 'drift delivered' },
    );
    const body = verified(hook.secret, got!);
    assert.equal(body.type, 'validation.drift_detected');
    assert.equal(body.data.jobId, run.body.jobs[0]!.id);
    assert.equal(body.data.resource, 'stock');
    assert.equal((body.data.counts as { missing: number }).missing, 2);
  });

  it('when a receiver keeps failing, then its subscription is disabled with the reason after the configured failures in a row, and nothing more is sent to it', async () => {
    const down = await subscribe('/down', QUIET);
    receiver.answer('/down', () => 503);

    const ping = await system.api<DeliveryView>(`/api/v1/webhooks/${down.id}/test`, {
      method: 'POST',
    });
    assert.equal(ping.status, 202, JSON.stringify(ping.body));
    assert.equal(ping.body.eventType, 'webhook.test');

    const disabled = await waitFor(
      async () => {
        const h = (await system.api<WebhookView>(`/api/v1/webhooks/${down.id}`)).body;
        return h.enabled ? undefined : h;
      },
      { timeoutMs: 30_000, message: 'subscription disabled' },
    );
    assert.match(disabled.disabledReason ?? '', /3 failed delivery attempts in a row.*HTTP 503/);
    assert.equal(disabled.consecutiveFailures, DISABLE_AFTER);
    assert.equal(receiver.at('/down').length, DISABLE_AFTER);
    assert.equal(verified(down.secret, receiver.at('/down')[0]!).type, 'webhook.test');
    const listed = await system.api<{ items: WebhookView[] }>('/api/v1/webhooks');
    assert.equal(listed.body.items.find((h) => h.id === down.id)?.enabled, false);

    // Switched on again, the pending delivery resumes with its own id.
    receiver.answer('/down', () => 204);
    const enabled = await system.api<WebhookView>(`/api/v1/webhooks/${down.id}/enable`, {
      method: 'POST',
    });
    assert.equal(enabled.status, 200);
    assert.equal(enabled.body.disabledReason, null);
    const [delivery] = await waitFor(
      async () => {
        const items = await deliveries(down.id);
        return items[0]?.status === 'succeeded' ? items : undefined;
      },
      { timeoutMs: 30_000, message: 'resumed delivery' },
    );
    assert.equal(delivery!.id, ping.body.id);
    assert.equal(delivery!.attempts, DISABLE_AFTER + 1);
  });

  it('when a receiver redirects or never answers, then the redirect is not followed, the wait ends at the timeout, and both attempts are logged as failed with the reason', async () => {
    const moved = await subscribe('/moved', QUIET);
    const silent = await subscribe('/silent', QUIET);
    receiver.answer('/moved', () => 302);
    receiver.answer('/silent', () => 0);
    for (const hook of [moved, silent]) {
      await system.api(`/api/v1/webhooks/${hook.id}/test`, { method: 'POST' });
    }
    const firstAttempt = (id: string) =>
      waitFor(
        async () => {
          const [d] = await deliveries(id);
          return d && d.log.length > 0 ? d.log[0] : undefined;
        },
        { timeoutMs: 30_000, message: `first attempt of ${id} logged` },
      );

    const redirect = await firstAttempt(moved.id);
    assert.equal(redirect.statusCode, 302);
    assert.match(redirect.error ?? '', /redirect; psc does not follow redirects/);
    assert.equal(receiver.at('/moved/redirected').length, 0);

    const timeout = await firstAttempt(silent.id);
    assert.equal(timeout.statusCode, null);
    assert.match(timeout.error ?? '', /did not answer within 1000 ms/);
    assert.ok(timeout.latencyMs >= 900, `waited ${timeout.latencyMs} ms`);
    for (const hook of [moved, silent]) {
      await system.api(`/api/v1/webhooks/${hook.id}`, { method: 'DELETE' });
    }
  });

  it('when the platform-registry restarts while a delivery waits for its retry, then the retry still comes, with the same webhook-id', async () => {
    const hook = await subscribe('/restart', QUIET);
    let open = false;
    receiver.answer('/restart', () => (open ? 200 : 500));
    await system.api(`/api/v1/webhooks/${hook.id}/test`, { method: 'POST' });
    await waitFor(() => receiver.at('/restart').length > 0 || undefined, {
      message: 'first attempt',
    });

    await system.services.get('platform-registry')!.process.stop();
    const before = receiver.at('/restart').length;
    open = true;
    await system.start('platform-registry');

    const all = await waitFor(
      () =>
        receiver.at('/restart').some((r) => r.status === 200) ? receiver.at('/restart') : undefined,
      { timeoutMs: 30_000, message: 'retry after restart' },
    );
    assert.ok(all.length > before);
    assert.equal(new Set(all.map((r) => r.headers['webhook-id'])).size, 1);
  });

  it('the secret is write-only: shown once at creation, never in GET, list or delivery log', async () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const hook = await subscribe('/quiet', ['schedule.auto_paused'], secret);
    assert.equal(hook.secret, secret);
    await system.api(`/api/v1/webhooks/${hook.id}/test`, { method: 'POST' });
    await waitFor(() => receiver.at('/quiet').length > 0 || undefined, { message: 'ping' });
    assert.equal(verified(secret, receiver.at('/quiet')[0]!).type, 'webhook.test');

    const raw = secret.slice('whsec_'.length);
    for (const path of [
      '/api/v1/webhooks',
      `/api/v1/webhooks/${hook.id}`,
      `/api/v1/webhooks/${hook.id}/deliveries`,
    ] as const) {
      const res = await system.api(path);
      assert.equal(res.status, 200);
      const text = JSON.stringify(res.body);
      assert.ok(!text.includes(raw), `${path} leaks the secret`);
      assert.ok(!/"secret"/.test(text), `${path} has a secret field`);
    }
  });

  it('when the URL is one psc may not call (metadata, private, not http), then POST /api/v1/webhooks is 422 and nothing is stored', async () => {
    const count = (await system.api<{ items: unknown[] }>('/api/v1/webhooks')).body.items.length;
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'ftp://127.0.0.1/hook',
    ]) {
      const res = await system.api<{ error: { code: string } }>('/api/v1/webhooks', {
        body: { url, events: ['job.dead'] },
      });
      assert.equal(res.status, 422, `${url}: ${JSON.stringify(res.body)}`);
    }
    const metadata = await system.api<{ error: { code: string } }>('/api/v1/webhooks', {
      body: { url: 'http://169.254.169.254/x', events: ['job.dead'] },
    });
    assert.equal(metadata.body.error.code, 'egress_denied');
    const badSecret = await system.api('/api/v1/webhooks', {
      body: { url: `${receiver.url}/x`, events: ['job.dead'], secret: 'hunter2' },
    });
    assert.equal(badSecret.status, 422);
    assert.ok(!JSON.stringify(badSecret.body).includes('hunter2'));
    const after = (await system.api<{ items: unknown[] }>('/api/v1/webhooks')).body.items.length;
    assert.equal(after, count);
  });

  it('DELETE /api/v1/webhooks/{id}: when a subscription is deleted, then it is gone (404)', async () => {
    const hook = await subscribe('/gone', ['job.failed']);
    const del = await system.api(`/api/v1/webhooks/${hook.id}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await system.api(`/api/v1/webhooks/${hook.id}`)).status, 404);
    assert.equal(
      (await system.api(`/api/v1/webhooks/${hook.id}`, { method: 'DELETE' })).status,
      404,
    );
  });

  // Last: it restarts the registry with a stricter egress allow list.
  it('when a URL allowed at creation is no longer allowed, then the egress guard stops the delivery at send time and the attempt names the reason', async () => {
    const hook = await subscribe('/later-denied', QUIET);
    await system.services.get('platform-registry')!.process.stop();
    await system.start('platform-registry', { PSC_EGRESS_ALLOW: 'localhost' });

    await system.api(`/api/v1/webhooks/${hook.id}/test`, { method: 'POST' });
    const attempt = await waitFor(
      async () => {
        const [d] = await deliveries(hook.id);
        return d?.log[0];
      },
      { timeoutMs: 30_000, message: 'denied attempt logged' },
    );
    assert.equal(attempt.statusCode, null);
    assert.match(
      attempt.error ?? '',
      /egress denied: 127\.0\.0\.1 is a blocked address \(loopback\)/,
    );
    assert.equal(receiver.at('/later-denied').length, 0, 'nothing reached the receiver');
  });
});
