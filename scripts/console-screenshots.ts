/**
 * Regenerates the console's screenshots in docs/console/ (shown in the README) from a real
 * system: five services on a fresh vhost and database, a fake platform on loopback, a synced
 * platform, a drift report, a dead job, webhooks to a loopback receiver, collectors and a
 * collection, backfills, API keys and a paused scheduler, photographed in headless Chromium.
 *
 *   TEST_INFRA=external node scripts/console-screenshots.ts
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { boothSample, startFakePlatform, waitFor } from '@psc/testing';
import { launchChromium, signIn } from '../test/support/browser.ts';
import { boothPlatform } from '../test/support/platforms.ts';
import { SERVICE_NAMES, startSystem } from '../test/support/system.ts';
import { startWebhookReceiver } from '../test/support/webhook-receiver.ts';
import { repoRoot } from './build.ts';

const OUT = join(repoRoot, 'docs', 'console');

interface Job {
  id: string;
  status: string;
}

const fake = await startFakePlatform({ collections: { '/booth/all': boothSample(24) } });
const receiver = await startWebhookReceiver();
const system = await startSystem({
  name: 'screenshots',
  services: [],
  env: { PSC_RETRY_TIERS_MS: '200,400,800' },
});
const browser = await launchChromium();
try {
  // One after another, as in test/e2e/console.e2e.test.ts: a busy machine boots them slowly.
  for (const name of SERVICE_NAMES) await system.start(name);
  const api = system.api.bind(system);
  const finished = (id: string) =>
    waitFor(
      async () => {
        const job = (await api<Job>(`/api/v1/jobs/${id}`)).body;
        return ['succeeded', 'failed', 'dead', 'cancelled'].includes(job.status) ? job : undefined;
      },
      { timeoutMs: 60_000, message: `job ${id} finished` },
    );

  const [resource] = boothPlatform(fake.url).resources;
  const booths = boothPlatform(fake.url, {
    name: 'booths',
    tags: ['venues'],
    resources: [{ ...resource, tasks: ['sync', 'validate'] }],
  });
  const platform = (await api<{ id: string }>('/api/v1/platforms', { body: booths })).body;
  const once = await api<{ jobs: Job[] }>(`/api/v1/platforms/${platform.id}/sync/once?wait=60`, {
    method: 'POST',
  });
  // Two booths change upstream: the next validate run reports them as drift.
  fake.updateItem('/booth/all', (b) => b.boothName === 'Booth 1', { boothUsageTable: 0 });
  fake.updateItem('/booth/all', (b) => b.boothName === 'Booth 2', { boothAllTable: 40 });
  const validate = await api<{ jobs: Job[] }>('/api/v1/run/validate', {
    body: { platformId: platform.id, resource: 'booths' },
  });
  await finished(validate.body.jobs[0]?.id ?? '');

  fake.setFault({ status: 500, body: { error: 'maintenance' } }, { path: '/orders' });
  fake.setCollection('/orders', boothSample(3));
  const orders = boothPlatform(fake.url, {
    name: 'orders',
    breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
    resources: [
      {
        name: 'orders',
        request: { path: '/orders' },
        itemsPath: 'data',
        key: 'boothName',
        mapping: { name: 'boothName' },
      },
    ],
  });
  const failing = (await api<{ id: string }>('/api/v1/platforms', { body: orders })).body;
  const dead = await api<{ jobs: Job[] }>('/api/v1/run/sync', {
    body: { platformId: failing.id, resource: 'orders', params: { full: true, token: 'tok-demo' } },
  });
  await finished(dead.body.jobs[0]?.id ?? '');

  // Three subscriptions: one that answers, one whose receiver fails, one switched off by hand.
  receiver.answer('/flaky', () => 503);
  const hook = async (path: string, events: string[], description?: string) =>
    (
      await api<{ id: string }>('/api/v1/webhooks', {
        body: { url: `${receiver.url}${path}`, events, ...(description ? { description } : {}) },
      })
    ).body.id;
  const onCall = await hook('/on-call', ['job.dead', 'breaker.opened'], 'on-call channel');
  const flaky = await hook('/flaky', ['validation.drift_detected']);
  await api(`/api/v1/webhooks/${await hook('/old', ['job.failed'])}/disable`, { method: 'POST' });
  for (const id of [onCall, onCall, flaky]) {
    await api(`/api/v1/webhooks/${id}/test`, { method: 'POST' });
  }
  await waitFor(() => receiver.at('/on-call').length === 2 && receiver.at('/flaky').length > 0, {
    timeoutMs: 30_000,
    message: 'test deliveries sent',
  });

  // A week of booths synced again, done; a month of orders, cancelled as its days keep failing.
  const backfill = async (platformId: string, resource: string, from: string, to: string) =>
    (
      await api<{ id: string }>('/api/v1/backfills', {
        body: { platformId, resource, taskType: 'sync', from, to, maxConcurrent: 2 },
      })
    ).body.id;
  const week = await backfill(platform.id, 'booths', '2026-11-01', '2026-11-07');
  const month = await backfill(failing.id, 'orders', '2026-10-01', '2026-10-31');
  await waitFor(
    async () =>
      (await api<{ status: string }>(`/api/v1/backfills/${week}`)).body.status === 'succeeded',
    { timeoutMs: 60_000, message: 'the week backfilled' },
  );
  await api(`/api/v1/backfills/${month}/cancel`, { body: { reason: 'orders API in maintenance' } });
  // A platform collected from, not synced: one collector run once, one stopped with a reason.
  const collected = (name: string) => ({
    name,
    tasks: ['collect'],
    request: { path: '/booth/all' },
    itemsPath: 'data',
    key: 'boothName',
    mapping: { name: 'boothName', usage: 'boothUsageTable' },
  });
  await api('/api/v1/platforms', {
    body: {
      name: 'venues',
      baseUrl: fake.url,
      resources: [collected('booth-list'), collected('booth-history')],
    },
  });
  const collection = await api<{ jobId: string }>('/api/v1/collectors/venues/booth-list/once', {
    body: {},
  });
  await finished(collection.body.jobId);
  await api('/api/v1/collectors/venues/booth-history/stop', {
    body: { reason: 'history moved to the archive API' },
  });
  // Keys a team would have besides the admin's: the Access page lists them.
  for (const [name, role] of [
    ['ci-deployer', 'operator'],
    ['grafana', 'viewer'],
  ] as const) {
    await api('/api/v1/api-keys', { body: { name, role } });
  }

  mkdirSync(OUT, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const shoot = async (name: string, path: string, ready: (p: Page) => Promise<void>) => {
    await page.goto(`${system.gatewayUrl}/ui${path}`);
    await ready(page);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
    process.stdout.write(`docs/console/${name}.png\n`);
  };

  await page.goto(`${system.gatewayUrl}/ui/`);
  await page.screenshot({ path: join(OUT, 'sign-in.png') });
  await signIn(page, system.gatewayUrl, system.adminKey);
  await shoot('overview', '/', (p) =>
    p.getByRole('cell', { name: 'sync-worker', exact: true }).first().waitFor(),
  );
  await shoot('platforms', '/platforms', async (p) => {
    await p.getByRole('link', { name: 'orders' }).waitFor();
    await p.getByRole('button', { name: 'Register a platform' }).click();
  });
  await shoot('platform', `/platforms/${platform.id}`, async (p) => {
    await p.getByRole('table', { name: 'Records' }).locator('tbody tr').first().waitFor();
    await p.getByRole('button', { name: 'Diffs' }).first().click();
    await p.getByRole('table', { name: 'Field diffs' }).waitFor();
  });
  await shoot('jobs', '/jobs', (p) => p.locator('tr[data-status="dead"]').first().waitFor());
  await shoot('job', `/jobs/${once.body.jobs[0]?.id ?? ''}`, (p) =>
    p.getByRole('heading', { name: 'Stats' }).waitFor(),
  );
  await shoot('dlq', '/dlq', async (p) => {
    await p.locator('tr[data-job]').first().getByRole('button', { name: 'Inspect' }).click();
    await p.getByRole('region', { name: 'Dead letter' }).getByLabel('Payload').waitFor();
  });
  await shoot('logs', '/logs', (p) =>
    p.getByRole('table', { name: 'Log lines' }).locator('tr[data-level="error"]').first().waitFor(),
  );
  await shoot('webhooks', '/webhooks', async (p) => {
    await p.locator(`tr[data-id="${onCall}"]`).getByRole('button', { name: 'Deliveries' }).click();
    await p.locator('tr[data-status="succeeded"]').first().waitFor();
  });
  await shoot('collectors', '/collectors', (p) =>
    p.locator('[data-stop-reason="history moved to the archive API"]').waitFor(),
  );
  await shoot('collection', `/jobs/${collection.body.jobId}`, (p) =>
    p.getByRole('table', { name: 'Documents' }).locator('tbody tr').first().waitFor(),
  );
  await shoot('backfills', `/backfills?open=${week}`, (p) =>
    p.locator(`tr[data-id="${month}"][data-status="cancelled"]`).waitFor(),
  );
  await api('/api/v1/scheduler/pause', { body: { reason: 'database upgrade until 22:00' } });
  await shoot('scheduler', '/scheduler', (p) =>
    p.getByLabel('Scheduler state').locator('.status', { hasText: 'paused' }).waitFor(),
  );
  await shoot('access', '/access', (p) =>
    p.getByText('database upgrade until 22:00').first().waitFor(),
  );
} finally {
  await browser.close();
  await system.stop();
  await receiver.stop();
  await fake.stop();
}
