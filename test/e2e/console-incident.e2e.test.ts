import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  boothSample,
  startFakePlatform,
  waitFor,
  type FakePlatform,
  type FakeReply,
} from '@psc/testing';
import { consoleWatch, launchChromium, rowData, signIn } from '../support/browser.ts';
import { boothPagesResource, boothPlatform, ordersResource } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

interface JobView {
  id: string;
  status: string;
  trigger: string;
}
interface DeadList {
  items: { jobId: string | null; platformId: string | null }[];
}

/**
 * The console as the engineer on call uses it during an incident, from its first page: a
 * platform answering 500 (its breaker, its dead jobs, their replay once it recovers), a job that
 * hangs, a task type paused and a collector stopped by a colleague.
 */
describe('console during an incident, in headless Chromium', { timeout: 240_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  let browser: Browser;
  let page: Page;
  /** Requests to /held the fake platform answers only once the test lets them go. */
  const held: (() => void)[] = [];
  let holding = true;
  const { elsewhere, problems, watch } = consoleWatch(
    () => system.gatewayUrl,
    // The scheduler's status is cut off on purpose for a while: the overview says it is stale.
    (text, url) => /Failed to load resource/.test(text) && url.endsWith('/api/v1/scheduler'),
  );

  /** A platform of one resource `orders` at a path of its own; its breaker opens on one failure. */
  async function platformAt(path: string) {
    const definition = boothPlatform(fake.url, {
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 600_000 },
      resources: [ordersResource(path), boothPagesResource()],
    });
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: definition });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.id, name: definition.name };
  }

  async function runSync(platformId: string): Promise<string> {
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource: 'orders' },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    return run.body.jobs[0]?.id ?? '';
  }

  const deadJobs = async () => (await system.api<DeadList>('/api/v1/dlq')).body.items;
  const jobOf = async (id: string) => (await system.api<JobView>(`/api/v1/jobs/${id}`)).body;

  before(async () => {
    fake = await startFakePlatform();
    fake.setCollection('/down', boothSample(4));
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/down' });
    fake.setCollection('/also-down', boothSample(2));
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/also-down' });
    fake.route('GET', '/held', () =>
      holding
        ? new Promise<FakeReply>((resolve) => held.push(() => resolve({ body: boothSample(3) })))
        : { body: boothSample(3) },
    );
    // One attempt: a job that fails dies at once, and its failure opens its platform's breaker.
    system = await startSystem({
      name: 'console-incident',
      services: [],
      env: { PSC_MAX_ATTEMPTS: '1' },
    });
    for (const name of SERVICE_NAMES) await system.start(name);
    browser = await launchChromium();
    const context = await browser.newContext();
    watch(context);
    page = await context.newPage();
    await signIn(page, system.gatewayUrl, system.adminKey);
  });

  after(async () => {
    holding = false;
    held.splice(0).forEach((release) => release());
    await browser?.close();
    await system?.stop();
    await fake?.stop();
  });

  it('when a platform answers 500, then the overview names it under open breakers and dead letters with since when, and says how fresh it is; after its breaker is reset its dead sync replays from its own dead letters and its page shows it succeed', async () => {
    const down = await platformAt('/down');
    const other = await platformAt('/also-down');
    const [jobId, otherJobId] = await Promise.all([runSync(down.id), runSync(other.id)]);
    await waitFor(
      async () => {
        const dead = (await deadJobs()).map((d) => d.jobId);
        return dead.includes(jobId) && dead.includes(otherJobId);
      },
      { timeoutMs: 30_000, message: 'both jobs dead' },
    );

    await page.goto(`${system.gatewayUrl}/ui/`);
    // Which platform, and since when, without opening anything.
    const breakers = page.getByLabel('Open breakers');
    const open = breakers.locator(`li[data-platform="${down.id}"]`);
    await open
      .filter({ hasText: new RegExp(`^${down.name} open on sync-worker since \\d+ s ago$`) })
      .waitFor();
    const dead = page.getByLabel('Dead letters by platform');
    await dead
      .getByRole('listitem')
      .filter({ hasText: new RegExp(`^${down.name} 1, last \\d+ s ago$`) })
      .waitFor();
    // The page polls by itself and says how fresh it is.
    const fresh = page.getByText(/^Live · updated \d+ s ago$/);
    await fresh.waitFor();
    // A read that keeps failing turns it into words: the page is out of date, and says so.
    await page.route('**/api/v1/scheduler', (route) => route.abort('connectionrefused'));
    await page.getByText(/^Out of date: last updated \d+ s ago; retrying\.$/).waitFor();
    await page.unroute('**/api/v1/scheduler');
    await fresh.waitFor({ timeout: 15_000 });

    // The platform recovers: the operator closes its breaker from its page.
    fake.setFault(null, { path: '/down' });
    await open.getByRole('link', { name: down.name }).click();
    await page
      .getByRole('region', { name: 'Schedule' })
      .getByText(/^sync-worker: open since \d+ s ago \(/)
      .waitFor();
    const reset = page.getByRole('button', { name: 'Reset breaker' });
    await waitFor(async () => await reset.isEnabled(), { message: 'Reset breaker offered' });
    await reset.click();
    await waitFor(async () => await reset.isDisabled(), {
      timeoutMs: 20_000,
      message: 'the page shows the breaker closed',
    });

    // Its dead letters only, by platform and task, from the overview's link.
    await page.getByRole('link', { name: 'Overview' }).click();
    await dead.getByRole('link', { name: down.name }).click();
    await page.getByLabel('Task').selectOption('sync');
    const rows = page.getByRole('table', { name: 'Dead letters' }).locator('tbody tr');
    await waitFor(async () => (await rowData(rows, 'job')).join() === jobId, {
      message: 'only the platform’s dead sync listed',
    });
    assert.equal(await rows.getByRole('link', { name: down.name }).count(), 1);
    const replayAll = page.getByRole('button', { name: 'Replay all shown' });
    const question = page.getByRole('group', { name: /^Replay / });
    // The question takes focus (on its way out): Escape takes it back, nothing replayed.
    await replayAll.click();
    await question.waitFor();
    await page.keyboard.press('Escape');
    await question.waitFor({ state: 'detached' });
    await replayAll.click();
    assert.match(
      (await question.textContent()) ?? '',
      new RegExp(`Replay 1 dead job matching these filters \\(platform ${down.name}, task sync\\)`),
    );
    await question.getByRole('button', { name: 'Replay all shown' }).click();
    const outcome = page.getByRole('status').filter({ hasText: 'Replayed 1 job.' });
    await outcome.getByRole('link', { name: 'Follow it' }).click();
    await page.getByRole('heading', { name: /^Job / }).getByText('succeeded').waitFor({
      timeout: 30_000,
    });
    assert.equal((await jobOf(jobId)).trigger, 'replay');
    assert.deepEqual(
      (await deadJobs()).map((d) => d.jobId),
      [otherJobId],
      'the other platform’s dead job was left alone',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(elsewhere, []);
  });

  it('when a job hangs, then the overview’s running count lists it, its id typed in Jobs opens its page naming its platform, and Cancel job with a reason, from the keyboard, says it waits on the platform and ends it cancelled', async () => {
    const definition = boothPlatform(fake.url, {
      timeoutMs: 120_000,
      resources: [
        {
          name: 'slow',
          request: { path: '/held' },
          itemsPath: 'data',
          key: 'boothName',
          mapping: { name: 'boothName' },
        },
      ],
    });
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: definition });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: created.body.id, resource: 'slow' },
    });
    const jobId = run.body.jobs[0]?.id ?? '';
    await waitFor(async () => (await jobOf(jobId)).status === 'running' && held.length > 0, {
      timeoutMs: 20_000,
      message: 'the job runs (its page is held)',
    });

    await page.goto(`${system.gatewayUrl}/ui/`);
    await page.getByRole('link', { name: /^running jobs: [1-9]/ }).click();
    assert.equal(await page.getByLabel('Status').inputValue(), 'running');
    const row = page.getByRole('table', { name: 'Jobs' }).locator(`tr[data-status="running"]`, {
      has: page.getByRole('link', { name: jobId.slice(0, 8) }),
    });
    await row.getByRole('cell', { name: definition.name }).waitFor();

    const open = page.getByRole('search', { name: 'Open a job by id' });
    await open.getByLabel('Job id').fill('not-an-id');
    await open.getByText('A job id is a whole UUID.').waitFor();
    assert.ok(await open.getByRole('button', { name: 'Open job' }).isDisabled());
    await open.getByLabel('Job id').fill(` ${jobId.toUpperCase()} `);
    await open.getByLabel('Job id').press('Enter');
    await page.getByRole('heading', { name: `Job ${jobId.slice(0, 8)} running` }).waitFor();
    await page.getByRole('link', { name: definition.name }).waitFor();

    // From the keyboard alone: the reason's box takes focus, Escape takes the question back.
    const cancel = page.getByRole('button', { name: 'Cancel job' });
    const reason = page.getByLabel('Reason to cancel job');
    await cancel.focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('typed');
    assert.equal(await reason.inputValue(), 'typed', 'what is typed goes into the reason');
    await page.keyboard.press('Escape');
    await reason.waitFor({ state: 'detached' });
    assert.equal((await jobOf(jobId)).status, 'running', 'Escape cancelled nothing');
    await cancel.focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('hangs on the platform');
    await page.keyboard.press('Enter');
    // The platform still holds the request: the job runs on, and the page says what was asked.
    await page
      .getByRole('status')
      .filter({ hasText: /^Cancel requested \d+ s ago: a running job stops at its next page/ })
      .waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).count(), 0);
    assert.equal((await jobOf(jobId)).status, 'running');
    holding = false;
    held.splice(0).forEach((release) => release());
    await page
      .getByRole('heading', { name: `Job ${jobId.slice(0, 8)} cancelled` })
      .waitFor({ timeout: 30_000 });
    assert.equal((await jobOf(jobId)).status, 'cancelled');
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).count(), 0);
    assert.deepEqual(problems, []);
  });

  it('when a colleague paused the scheduler and the sync schedules and stopped a collector, then the overview says each with its reason and links to where the operator resumes and starts them', async () => {
    const { name } = await platformAt('/quiet');
    const post = async (path: Parameters<System['api']>[0], reason: string) =>
      assert.equal((await system.api(path, { body: { reason } })).status, 200, path);
    await post('/api/v1/scheduler/pause', 'db upgrade (Ana)');
    await post('/api/v1/scheduler/config/sync/pause', 'platform maintenance (Ana)');
    const collector = `/api/v1/collectors/${name}/booth-pages` as const;
    await post(`${collector}/stop`, 'season over');

    await page.goto(`${system.gatewayUrl}/ui/`);
    const scheduler = page.getByLabel('Scheduler state');
    await scheduler.getByText(/since \d+ s ago/).waitFor();
    await scheduler.getByText('db upgrade (Ana)').waitFor();
    await scheduler
      .getByLabel('Paused task types')
      .getByText('paused every sync schedule: platform maintenance (Ana)')
      .waitFor();
    const collectors = page.getByLabel('Collectors', { exact: true });
    await collectors.getByText(/^stopped of \d+/).waitFor();
    assert.equal(await collectors.locator('.big').textContent(), '1');

    await scheduler.getByRole('link', { name: 'Resume on the scheduler page' }).click();
    const resume = async (label: string) => {
      await page.getByRole('button', { name: label, exact: true }).click();
      await page.getByLabel(`Reason to ${label.toLowerCase()}`).fill('upgrade done');
      await page.getByLabel(`Reason to ${label.toLowerCase()}`).press('Enter');
    };
    await resume('Resume');
    await resume('Resume sync');
    await waitFor(
      async () => {
        const s = await system.api<{ state: string }>('/api/v1/scheduler');
        const c = await system.api<{ items: { taskType: string; pausedReason: string | null }[] }>(
          '/api/v1/scheduler/config',
        );
        return (
          s.body.state === 'running' &&
          !c.body.items.find((t) => t.taskType === 'sync')?.pausedReason
        );
      },
      { message: 'the scheduler and the sync schedules resumed' },
    );

    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByLabel('Paused task types').waitFor({ state: 'detached' });
    await collectors.getByRole('link', { name: 'Show the stopped' }).click();
    assert.equal(await page.getByLabel('State').inputValue(), 'stopped');
    const row = page.locator(`tr[data-name="${name}/booth-pages"]`);
    await row.getByRole('button', { name: 'Start' }).click();
    await waitFor(
      async () =>
        (await system.api<{ enabled: boolean | null }>(`${collector}/status`)).body.enabled ===
        true,
      { message: 'the collector started' },
    );
    await page.getByRole('link', { name: 'Overview' }).click();
    await waitFor(async () => (await collectors.locator('.big').textContent()) === '0', {
      message: 'the overview counts no stopped collector',
    });
    assert.deepEqual(problems, []);
  });
});
