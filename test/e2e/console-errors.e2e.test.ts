import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  boothSample,
  startFakePlatform,
  waitFor,
  type FakePlatform,
  type FakeReply,
} from '@psc/testing';
import { consoleWatch, launchChromium, rowData, signIn } from '../support/browser.ts';
import { boothPlatform, raceCardsResource } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

interface JobView {
  id: string;
  status: string;
}
interface ChildPage {
  items: { index: number; error: string | null }[];
  nextCursor: string | null;
}

const DATE = '2024-06-01';
/** Races of the fan-out; every one but each tenth has no card, so 108 children fail. */
const RACES = 120;
const hasCard = (race: number) => race % 10 === 0;
const FAILED = RACES - RACES / 10;
/** Failed children the console shows a page at a time. */
const FAILURES_PAGE = 50;
const UUID_UNKNOWN = '00000000-0000-4000-8000-000000000000';

/**
 * How the console behaves when things go wrong: the gateway unreachable or failing, a key revoked
 * under an open form, a record deleted under its link, an answer of an unexpected shape, kilobytes
 * of error text, many failed children, and a mass replay.
 */
describe('console when things go wrong, in headless Chromium', { timeout: 300_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminKey = '';
  /** Booths the platform holds back until the test lets them go: a job that keeps running. */
  const held: (() => void)[] = [];
  let holding = true;
  const { elsewhere, problems, watch } = consoleWatch(
    () => system.gatewayUrl,
    // What these tests make the gateway answer (or not) on purpose; the page shows each.
    (text) =>
      /status of (401|404|503)|ERR_CONNECTION_REFUSED|Failed to load resource/.test(text) ||
      // React reports the error its boundary caught and the page shows.
      /Cannot read properties of undefined/.test(text),
  );

  async function createKey(name: string, role: 'admin' | 'operator' | 'viewer') {
    const created = await system.api<{ id: string; key: string }>('/api/v1/api-keys', {
      body: { name: `${name}-${Math.random().toString(36).slice(2, 8)}`, role },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  }

  async function platformWith(resources: unknown[]): Promise<string> {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(fake.url, { resources, timeoutMs: 120_000 }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  /** A resource of the fake platform's booths at `path`. */
  const boothResource = (name: string, path: string) => ({
    name,
    request: { path },
    itemsPath: 'data',
    key: 'boothName',
    mapping: { name: 'boothName' },
  });

  /** Runs a sync of one resource now; its job's id. */
  async function runSync(platformId: string, resource: string): Promise<string> {
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    return run.body.jobs[0]!.id;
  }

  const jobOf = async (id: string) => (await system.api<JobView>(`/api/v1/jobs/${id}`)).body;
  const inPage = (p: Page, expression: string) => p.evaluate(expression);
  /** Whether the page scrolls sideways: a long value pushed it wider than the window. */
  const overflowsSideways = async (p: Page) =>
    (await inPage(
      p,
      'document.documentElement.scrollWidth > document.documentElement.clientWidth',
    )) as boolean;

  before(async () => {
    fake = await startFakePlatform();
    fake.route('GET', '/held', () =>
      holding
        ? new Promise<FakeReply>((resolve) => held.push(() => resolve({ body: boothSample(3) })))
        : { body: boothSample(3) },
    );
    fake.setCollection('/failing', boothSample(2));
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/failing' });
    fake.route('GET', `/meetings/${DATE}`, () => ({
      body: { entries: Array.from({ length: RACES }, (_, race) => ({ race })) },
    }));
    for (let race = 0; race < RACES; race += 1) {
      fake.route('GET', `/card/${DATE}/${race}`, () =>
        hasCard(race)
          ? { body: { runners: [{ race, horse: `h${race}` }] } }
          : { status: 404, body: { error: `no card for race ${race}` } },
      );
    }
    system = await startSystem({
      name: 'console-errors',
      services: [],
      env: { PSC_MAX_ATTEMPTS: '2', PSC_RETRY_TIERS_MS: '200' },
    });
    for (const name of SERVICE_NAMES) await system.start(name);
    browser = await launchChromium();
    context = await browser.newContext();
    watch(context);
    page = await context.newPage();
    adminKey = (await createKey('console-errors-admin', 'admin')).key;
    await signIn(page, system.gatewayUrl, adminKey);
  });

  after(async () => {
    holding = false;
    held.splice(0).forEach((release) => release());
    await browser?.close();
    await system?.stop();
    await fake?.stop();
  });

  it('when the page is reloaded while the gateway does not answer, then it says so in words and keeps the key, and Retry signs in once the gateway answers', async () => {
    // A page of its own: the shared one must stay signed in whatever happens here.
    const own = await context.newPage();
    try {
      await signIn(own, system.gatewayUrl, adminKey);
      await own.route('**/api/v1/me', (route) => route.abort('connectionrefused'));
      await own.reload();
      await own
        .getByRole('alert')
        .filter({ hasText: 'The gateway did not answer' })
        .waitFor({ timeout: 10_000 });
      assert.equal(await own.getByLabel('API key').count(), 0, 'not sent back to sign in');
      assert.equal(await inPage(own, `sessionStorage.getItem('psc.apiKey')`), adminKey);
      await own.unroute('**/api/v1/me');
      await own.getByRole('button', { name: 'Retry' }).click();
      await own.getByRole('heading', { name: 'Overview' }).waitFor();
    } finally {
      await own.close();
    }
  });

  it('when a running job’s page loses the gateway, then the job stays shown with why it is not current, a 503 is said with its status, and the page recovers by itself', async () => {
    const platformId = await platformWith([boothResource('slow', '/held')]);
    const jobId = await runSync(platformId, 'slow');
    await waitFor(async () => (await jobOf(jobId)).status === 'running', {
      timeoutMs: 30_000,
      message: 'the job runs (its page is held)',
    });
    await page.goto(`${system.gatewayUrl}/ui/jobs/${jobId}`);
    const heading = page.getByRole('heading', { name: `Job ${jobId.slice(0, 8)}` });
    await heading.locator('.status', { hasText: 'running' }).waitFor();

    const jobUrl = `**/api/v1/jobs/${jobId}`;
    try {
      await page.route(jobUrl, (route) => route.abort('connectionrefused'));
      const unreachable = page.getByRole('alert').filter({ hasText: 'The gateway did not answer' });
      await unreachable.waitFor({ timeout: 10_000 });
      assert.ok(await heading.isVisible(), 'the job is still shown');
      await page.unroute(jobUrl);

      let refused = 0;
      await page.route(jobUrl, (route) => {
        refused += 1;
        return route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({
            error: { code: 'unavailable', message: 'scheduler did not answer in time' },
          }),
        });
      });
      const failing = page
        .getByRole('alert')
        .filter({ hasText: 'HTTP 503' })
        .filter({ hasText: 'scheduler did not answer in time' });
      await failing.waitFor({ timeout: 10_000 });
      assert.match((await failing.textContent()) ?? '', /Try again/);
      assert.ok(await heading.isVisible(), 'the job is still shown');
      // A few failures in a row (an outage of a while): the page still comes back soon after.
      await waitFor(() => refused >= 2, { timeoutMs: 30_000, message: 'the page asked again' });
      await page.unroute(jobUrl);
      await failing.waitFor({ state: 'detached', timeout: 12_000 });
    } finally {
      await page.unroute(jobUrl);
      holding = false;
      held.splice(0).forEach((release) => release());
    }
    await heading.locator('.status', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
  });

  it('when a job or platform that does not exist is opened by its URL, then the page says there is no such one and links to the list', async () => {
    await page.goto(`${system.gatewayUrl}/ui/jobs/${UUID_UNKNOWN}`);
    await page.getByRole('alert').filter({ hasText: 'No such job' }).waitFor();
    await page.getByRole('link', { name: 'All jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();

    await page.goto(`${system.gatewayUrl}/ui/platforms/${UUID_UNKNOWN}`);
    await page.getByRole('alert').filter({ hasText: 'No such platform' }).waitFor();
    await page.getByRole('link', { name: 'All platforms' }).click();
    await page.getByRole('heading', { name: 'Platforms' }).waitFor();
  });

  it('when the gateway answers a platform in a shape the console does not expect, then the page says it could not be shown, under a header that still works', async () => {
    const platformId = await platformWith([boothResource('booths', '/failing')]);
    const url = `**/api/v1/platforms/${platformId}`;
    await page.route(url, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ id: platformId, name: 'half-a-platform' }),
      }),
    );
    try {
      await page.goto(`${system.gatewayUrl}/ui/platforms/${platformId}`);
      await page.getByRole('heading', { name: 'This page could not be shown' }).waitFor();
    } finally {
      await page.unroute(url);
    }
    await page.locator('header').getByRole('link', { name: 'Platforms' }).click();
    await page.getByRole('heading', { name: 'Platforms', exact: true }).waitFor();
  });

  it('when a job’s error runs to kilobytes without a space, then the page stays as wide as the window and the error scrolls in a bounded box, all of it there', async () => {
    const platformId = await platformWith([boothResource('booths', '/failing')]);
    const jobId = await runSync(platformId, 'booths');
    await waitFor(async () => ['failed', 'dead'].includes((await jobOf(jobId)).status), {
      timeoutMs: 30_000,
      message: 'the job failed',
    });
    // The real answer, its error made as long as a platform's stack or body can make it.
    const long = `upstream:${'x'.repeat(8_000)}`;
    const url = `**/api/v1/jobs/${jobId}`;
    await page.route(url, async (route) => {
      const answer = await route.fetch();
      const job = (await answer.json()) as { error: { message: string } | null };
      await route.fulfill({
        response: answer,
        json: { ...job, error: { class: 'UpstreamError', message: long } },
      });
    });
    try {
      await page.goto(`${system.gatewayUrl}/ui/jobs/${jobId}`);
      const error = page.locator('dd', { hasText: 'UpstreamError:' });
      await error.waitFor();
      assert.equal(await error.textContent(), `UpstreamError: ${long}`, 'all of it is there');
      assert.equal(await overflowsSideways(page), false, 'the page does not scroll sideways');
      const box = await error.boundingBox();
      assert.ok(box && box.height < 250, `the error is bounded (${String(box?.height)} px)`);
    } finally {
      await page.unroute(url);
    }
  });

  it('when a fan-out has more failed children than a page, then Next and Previous page through them as the API pages them, each with its error', async () => {
    const platformId = await platformWith([raceCardsResource()]);
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/collect', {
      body: { platformId, resource: 'cards', params: { date: DATE } },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const jobId = run.body.jobs[0]?.id ?? '';
    await waitFor(
      async () => {
        const c = await system.api<{ status: string; children: { failed: number } | null }>(
          `/api/v1/collections/${jobId}`,
        );
        return c.body.status === 'failed' && c.body.children?.failed === FAILED;
      },
      { timeoutMs: 90_000, message: `the collection ended with ${FAILED} failed children` },
    );
    const apiPages: ChildPage[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const query: string = `status=failed&limit=${FAILURES_PAGE}${cursor ? `&cursor=${cursor}` : ''}`;
      const answer = await system.api<ChildPage>(`/api/v1/collections/${jobId}/children?${query}`);
      apiPages.push(answer.body);
      cursor = answer.body.nextCursor;
    }
    assert.equal(apiPages.length, 3);

    await page.goto(`${system.gatewayUrl}/ui/jobs/${jobId}`);
    const failures = page.getByRole('region', { name: 'Failed children' });
    const rows = failures.getByRole('table', { name: 'Failed children' }).locator('tbody tr');
    const pager = failures.locator('.pager');
    const next = pager.getByRole('button', { name: 'Next' });
    const previous = pager.getByRole('button', { name: 'Previous' });
    const showsPage = async (n: number) => {
      const expected = apiPages[n - 1]?.items ?? [];
      const first = (n - 1) * FAILURES_PAGE + 1;
      await pager
        .filter({ hasText: `${first}–${first + expected.length - 1} of ${FAILED}` })
        .waitFor({ timeout: 15_000 });
      await waitFor(
        async () =>
          JSON.stringify(await rowData(rows, 'child')) ===
          JSON.stringify(expected.map((c) => String(c.index))),
        { message: `page ${n} lists the API's failed children` },
      );
      const sample = expected[expected.length - 1];
      assert.ok(sample);
      const cells = failures.locator(`tr[data-child="${String(sample.index)}"] td`);
      assert.equal(await cells.nth(1).textContent(), sample.error);
    };

    await showsPage(1);
    assert.ok(await previous.isDisabled());
    await next.click();
    await showsPage(2);
    await next.click();
    await showsPage(3);
    assert.ok(await next.isDisabled(), 'no page after the last');
    await previous.click();
    await showsPage(2);
    await previous.click();
    await showsPage(1);
  });

  it('when Replay all shown is pressed, then it asks first, saying how many dead jobs and under which filter, and replays only once confirmed, saying how many', async () => {
    const platformId = await platformWith([boothResource('booths', '/failing')]);
    const jobId = await runSync(platformId, 'booths');
    const deadSyncs = async () =>
      (
        await system.api<{ items: { jobId: string | null }[] }>('/api/v1/dlq?taskType=sync')
      ).body.items.map((d) => d.jobId);
    await waitFor(async () => (await deadSyncs()).includes(jobId), {
      timeoutMs: 30_000,
      message: 'the job is dead',
    });
    const count = (await deadSyncs()).length;

    await page.goto(`${system.gatewayUrl}/ui/dlq`);
    await page.getByLabel('Task').selectOption('sync');
    await page.locator(`tr[data-job="${jobId}"]`).waitFor();
    await page.getByRole('button', { name: 'Replay all shown' }).click();
    const question = page.getByRole('group', { name: /^Replay / });
    await question.waitFor();
    assert.match(
      (await question.textContent()) ?? '',
      new RegExp(`Replay ${count} dead jobs? matching these filters \\(task sync\\)\\?`),
    );
    assert.ok((await deadSyncs()).includes(jobId), 'nothing replayed before the answer');

    await question.getByRole('button', { name: 'Replay all shown' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Replayed ${count} job` })
      .waitFor();
    await waitFor(async () => !(await deadSyncs()).includes(jobId), {
      message: 'the job left the dead-letter queue',
    });
  });

  it('when Jobs or Dead letters are narrowed to nothing, then the page says none match instead of an empty table', async () => {
    await page.goto(`${system.gatewayUrl}/ui/jobs?backfillId=${UUID_UNKNOWN}`);
    await page.getByText('No jobs match these filters.').waitFor();
    await page.goto(`${system.gatewayUrl}/ui/dlq`);
    await page.getByLabel('Reason contains').fill('no dead letter says this');
    await page.getByText('No dead letters match these filters.').waitFor();
  });

  it('when the key is revoked while a form holds what the admin typed, then the page says so and keeps the form, and after signing in again the text is there and the form submits', async () => {
    const first = await createKey('console-errors-revoked', 'admin');
    const tab = await context.newPage();
    await signIn(tab, system.gatewayUrl, first.key);
    await tab.locator('header').getByRole('link', { name: 'Platforms' }).click();
    await tab.getByRole('button', { name: 'Register a platform' }).click();
    const form = tab.getByRole('form', { name: 'Register a platform' });
    const name = `typed-${Math.random().toString(36).slice(2, 8)}`;
    const nameField = form.getByLabel('Name', { exact: true });
    const urlField = form.getByLabel('Base URL');
    await nameField.fill(name);
    await urlField.fill(fake.url);

    const revoked = await system.api(`/api/v1/api-keys/${first.id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 204);
    // The list's next poll is refused.
    const prompt = tab.getByRole('alertdialog', { name: 'Signed out' });
    await prompt.waitFor({ timeout: 15_000 });
    assert.match((await prompt.textContent()) ?? '', /no longer accepts this console.s key/);
    assert.equal(await nameField.inputValue(), name, 'the typed text stays');

    const second = await createKey('console-errors-again', 'admin');
    await prompt.getByLabel('API key').fill(second.key);
    await prompt.getByRole('button', { name: 'Sign in again' }).click();
    await prompt.waitFor({ state: 'detached' });
    assert.equal(await nameField.inputValue(), name);
    assert.equal(await urlField.inputValue(), fake.url);
    await form.getByRole('button', { name: 'Register' }).click();
    await tab.getByRole('heading', { name }).waitFor();
    const listed = await system.api<{ items: { name: string }[] }>('/api/v1/platforms?limit=500');
    assert.ok(listed.body.items.some((p) => p.name === name));
    await tab.close();
  });

  it('then no page sent a request anywhere but the gateway, and none logged an unexpected error', () => {
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(problems, []);
  });
});
