import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFakePlatform, waitFor, type FakePlatform, type FakeReply } from '@psc/testing';
import { consoleWatch, hrefs, launchChromium, rowData, signIn } from '../support/browser.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

type Progress = Record<string, number>;
interface BackfillView {
  id: string;
  status: string;
  progress: Progress;
  cancelReason: string | null;
}

/** Buttons that only read: everything else the pages offer changes something. */
const READ_ONLY_BUTTONS = new Set(['Sign out', 'Inspect', 'Hide', 'Older', 'Newer', 'Open job']);

/** The step counts as the page words them: non-zero ones, outcomes first, then what waits. */
const STATES = [
  'succeeded',
  'failed',
  'dead',
  'cancelled',
  'purged',
  'running',
  'waiting',
  'queued',
  'pending',
];
const countsText = ({ progress: p }: BackfillView): string =>
  STATES.filter((s) => (p[s] ?? 0) > 0)
    .map((s) => `${p[s]} ${s}`)
    .join(' · ');
const doneOf = (p: Progress): number =>
  ['succeeded', 'failed', 'dead', 'cancelled', 'purged'].reduce((n, s) => n + (p[s] ?? 0), 0);

const DAYS = ['20240501', '20240502', '20240503', '20240504', '20240505'];

/** A collect resource over `path` whose request needs a `date` (`?date={{date}}`). */
const dated = (name: string, path: string) => ({
  name,
  tasks: ['collect'],
  params: ['date'],
  request: { path, query: { date: '{{date}}' } },
  itemsPath: 'items',
  key: 'id',
  mapping: { id: 'id', date: 'date' },
});

describe('console Backfills page in headless Chromium', { timeout: 300_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  let browser: Browser;
  let operator: BrowserContext;
  let page: Page;
  const races = { id: '', name: `races-${Math.random().toString(36).slice(2, 8)}` };
  const laps = { id: '', name: `laps-${Math.random().toString(36).slice(2, 8)}` };
  /** Answers of /laps the platform holds back until the test lets them go. */
  const held: (() => void)[] = [];
  const releaseLaps = () => held.splice(0).forEach((release) => release());
  /** The backfill the operator started through the form (it succeeds). */
  let formBackfill = '';
  /** The backfill the operator cancelled. */
  let cancelledBackfill = '';
  const { elsewhere, problems, watch } = consoleWatch(
    () => system.gatewayUrl,
    // The 422 of a backfill whose range ends before it starts is an answer the form shows.
    (text, url) => /status of 422/.test(text) && url.endsWith('/api/v1/backfills'),
  );

  const backfillOf = async (id: string) =>
    (await system.api<BackfillView>(`/api/v1/backfills/${id}`)).body;
  const listed = async (query = '') =>
    (await system.api<{ items: BackfillView[] }>(`/api/v1/backfills?limit=100${query}`)).body.items;
  const backfillRows = (p: Page) => p.locator('table[aria-label="Backfills"] tbody tr[data-id]');

  async function keyOf(role: 'operator' | 'viewer'): Promise<string> {
    const created = await system.api<{ key: string }>('/api/v1/api-keys', {
      body: { name: `console-backfills-${role}`, role },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.key;
  }

  /**
   * A backfill of `laps` over six days from `from`, one run at a time, its first run held at the
   * platform. Each call takes days of its own: a day that already has an open run is not run again.
   */
  async function heldBackfill(from: string, to: string): Promise<string> {
    const res = await system.api<BackfillView>('/api/v1/backfills', {
      body: {
        platformId: laps.id,
        resource: 'laps',
        taskType: 'collect',
        from,
        to,
        paramsTemplate: { date: '{{date}}' },
        maxConcurrent: 1,
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor(async () => (await backfillOf(res.body.id)).progress.running === 1, {
      timeoutMs: 30_000,
      message: 'the first run of the held backfill running',
    });
    return res.body.id;
  }

  before(async () => {
    fake = await startFakePlatform();
    fake.route('GET', '/races', (req) => {
      const date = req.query.date ?? '';
      // A day (yyyyMMdd) or an hour of one (yyyyMMddHH).
      return /^\d{8}(\d{2})?$/.test(date)
        ? { body: { items: [{ id: `race-${date}`, date }] } }
        : { status: 404, body: { error: `no races on ${date}` } };
    });
    // A platform that answers only when the test says so: its backfills stay running.
    fake.route(
      'GET',
      '/laps',
      (req) =>
        new Promise<FakeReply>((resolve) =>
          held.push(() => resolve({ body: { items: [{ id: `lap-${req.query.date}` }] } })),
        ),
    );
    system = await startSystem({
      name: 'console-backfills',
      services: [],
      env: { PSC_SCHEDULER_TICK_MS: '200' },
    });
    // One after another: five Node processes booting at once on a busy two-core machine can
    // miss the readiness deadline.
    for (const name of SERVICE_NAMES) await system.start(name);
    for (const [platform, resource, extra] of [
      [races, dated('races', '/races'), {}],
      [laps, dated('laps', '/laps'), { timeoutMs: 120_000 }],
    ] as const) {
      const created = await system.api<{ id: string }>('/api/v1/platforms', {
        body: { name: platform.name, baseUrl: fake.url, resources: [resource], ...extra },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      platform.id = created.body.id;
    }
    browser = await launchChromium();
    operator = await browser.newContext();
    watch(operator);
    page = await operator.newPage();
    await signIn(page, system.gatewayUrl, await keyOf('operator'));
  });

  after(async () => {
    releaseLaps();
    await browser?.close();
    await system?.stop();
    await fake?.stop();
  });

  it('when an operator starts a backfill through the form, then it is listed with its platform’s name and progresses live to succeeded with the counts the API reports, each day fetched with its date', async () => {
    await page.getByRole('link', { name: 'Backfills' }).click();
    await page.getByRole('heading', { name: 'Backfills' }).waitFor();
    await page.getByText('No backfills yet.').waitFor();
    await page.getByRole('button', { name: 'New backfill' }).click();
    const form = page.getByRole('form', { name: 'New backfill' });
    await form.getByLabel('Platform', { exact: true }).selectOption({ label: races.name });
    await form.getByLabel('Resource').selectOption('races');
    await form.getByLabel('Task').selectOption('collect');
    await form.getByLabel('From').fill('2024-05-01');
    await form.getByLabel('To (included)').fill('2024-05-05');
    await form.getByLabel('Step').selectOption('day');
    await form.getByLabel('Timezone').fill('Asia/Seoul');
    await form.getByLabel('Params template (JSON)').fill('{"date": "{{date:yyyyMMdd}}"}');
    await form.getByLabel('Runs at once (max concurrent)').fill('2');
    await form.getByRole('button', { name: 'Start backfill' }).click();

    await page.getByRole('status').filter({ hasText: 'started: 5 steps' }).waitFor();
    await form.waitFor({ state: 'detached' });
    formBackfill = new URL(page.url()).searchParams.get('open') ?? '';
    assert.ok(formBackfill, 'the new backfill is opened in the URL');
    // No reload from here on: the list follows the backfill by itself.
    const row = page.locator(`tr[data-id="${formBackfill}"]`);
    await page
      .locator(`tr[data-id="${formBackfill}"][data-status="succeeded"]`)
      .waitFor({ timeout: 60_000 });

    const api = await backfillOf(formBackfill);
    assert.equal(api.status, 'succeeded');
    assert.deepEqual(
      { steps: api.progress.steps, succeeded: api.progress.succeeded, done: doneOf(api.progress) },
      { steps: 5, succeeded: 5, done: 5 },
    );
    const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
    assert.deepEqual(cells.slice(0, 6), [
      races.name,
      'races',
      'collect',
      '2024-05-01 → 2024-05-05',
      'day Asia/Seoul',
      'succeeded',
    ]);
    assert.equal(cells[6], `5 of 5 done${countsText(api)}`, 'bar, n of m, counts');
    assert.equal(cells[7], '2', 'runs at once');
    assert.equal(
      await row.getByRole('link', { name: races.name }).getAttribute('href'),
      `/ui/platforms/${races.id}`,
    );
    assert.equal(await row.getByRole('progressbar').getAttribute('value'), '5');
    assert.deepEqual(
      fake.requests
        .filter((r) => r.path === '/races')
        .map((r) => r.query.date)
        .sort(),
      DAYS,
      'each day of Seoul fetched once with its yyyyMMdd date',
    );
  });

  it('when the range ends before it starts, then the form shows the API’s 422 message and the field it names, and nothing is started', async () => {
    const before = (await listed()).length;
    await page.getByRole('button', { name: 'New backfill' }).click();
    const form = page.getByRole('form', { name: 'New backfill' });
    await form.getByLabel('Platform', { exact: true }).selectOption({ label: races.name });
    await form.getByLabel('From').fill('2024-05-05');
    await form.getByLabel('To (included)').fill('2024-05-01');
    await form.getByLabel('Params template (JSON)').fill('{"date": "{{date}}"}');
    await form.getByRole('button', { name: 'Start backfill' }).click();

    const alert = form.getByRole('alert');
    await alert.waitFor();
    const refused = await system.api<{ error: { message: string } }>('/api/v1/backfills', {
      body: {
        platformId: races.id,
        resource: 'races',
        taskType: 'collect',
        from: '2024-05-05',
        to: '2024-05-01',
        paramsTemplate: { date: '{{date}}' },
      },
    });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(await alert.locator('p').textContent(), refused.body.error.message);
    assert.match(refused.body.error.message, /before/);
    assert.equal(await alert.locator('li').textContent(), 'field=to');
    assert.equal((await listed()).length, before, 'no backfill started');
    await page.getByRole('button', { name: 'Close form' }).click();
  });

  it('when an operator starts an hourly backfill from mid-day through the form, with times in UTC, then it runs exactly those hours, each fetched with its hour, and the list and detail show the range to the hour', async () => {
    await page.goto(`${system.gatewayUrl}/ui/backfills`);
    await page.getByRole('button', { name: 'New backfill' }).click();
    const form = page.getByRole('form', { name: 'New backfill' });
    await form.getByLabel('Platform', { exact: true }).selectOption({ label: races.name });
    await form.getByLabel('Task').selectOption('collect');
    // An hourly step asks for date-times; the day steps' runs (Seoul midnights) are other hours.
    await form.getByLabel('Step').selectOption('hour');
    await form.getByLabel('From (UTC)').fill('2024-04-10T13:00');
    await form.getByLabel('To (UTC, included)').fill('2024-04-10T16:00');
    await form.getByLabel('Timezone').fill('UTC');
    await form.getByLabel('Params template (JSON)').fill('{"date": "{{date:yyyyMMddHH}}"}');
    await form.getByRole('button', { name: 'Start backfill' }).click();

    await page.getByRole('status').filter({ hasText: 'started: 4 steps' }).waitFor();
    const id = new URL(page.url()).searchParams.get('open') ?? '';
    assert.ok(id, 'the new backfill is opened in the URL');
    const row = page.locator(`tr[data-id="${id}"]`);
    await page.locator(`tr[data-id="${id}"][data-status="succeeded"]`).waitFor({ timeout: 60_000 });
    const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
    assert.deepEqual(cells.slice(3, 5), ['2024-04-10 13:00 → 2024-04-10 16:00', 'hour UTC']);
    const api = await backfillOf(id);
    assert.deepEqual(
      { steps: api.progress.steps, succeeded: api.progress.succeeded },
      { steps: 4, succeeded: 4 },
    );
    assert.equal(cells[6], `4 of 4 done${countsText(api)}`);
    await page
      .getByRole('region', { name: `Backfill ${id.slice(0, 8)}` })
      .getByText('2024-04-10 13:00 → 2024-04-10 16:00, one run per hour in UTC')
      .waitFor();
    assert.deepEqual(
      fake.requests
        .filter((r) => r.path === '/races' && r.query.date?.startsWith('20240410'))
        .map((r) => r.query.date)
        .sort(),
      ['2024041013', '2024041014', '2024041015', '2024041016'],
      'each hour from 13:00 UTC fetched once, none before',
    );
  });

  it('when an operator cancels a running backfill, then it asks first (with an optional reason), and once confirmed the list shows it cancelled with the counts the API reports and no Cancel', async () => {
    cancelledBackfill = await heldBackfill('2024-06-01', '2024-06-06');
    await page.goto(`${system.gatewayUrl}/ui/backfills`);
    const row = page.locator(`tr[data-id="${cancelledBackfill}"]`);
    await row.locator('.status', { hasText: 'running' }).waitFor();
    await row.getByText('1 running · 5 pending').waitFor();
    assert.deepEqual(
      await rowData(backfillRows(page), 'id'),
      (await listed()).map((b) => b.id),
      'newest first, as the API lists them',
    );

    const cancel = row.getByRole('button', { name: 'Cancel backfill' });
    await cancel.click();
    const ask = row.getByRole('form', { name: /^Cancel this backfill\?/ });
    await ask.waitFor();
    await ask.getByRole('button', { name: 'Keep', exact: true }).click();
    await ask.waitFor({ state: 'detached' });
    assert.equal((await backfillOf(cancelledBackfill)).status, 'running', 'not cancelled unasked');

    await cancel.click();
    await ask.getByLabel('Reason to cancel backfill').fill('wrong month');
    await ask.getByRole('button', { name: 'Cancel backfill' }).click();
    await page.locator(`tr[data-id="${cancelledBackfill}"][data-status="cancelled"]`).waitFor();
    assert.equal(await cancel.count(), 0, 'a cancelled backfill offers no Cancel');
    // Its held run is still at the platform (released after the last test): the row follows the
    // API's counts as they are.
    const cell = row.locator('td').nth(6);
    const api = await waitFor(
      async () => {
        const b = await backfillOf(cancelledBackfill);
        const text = `${doneOf(b.progress)} of 6 done${countsText(b)}`;
        return (await cell.textContent())?.trim() === text ? b : undefined;
      },
      { message: 'the cancelled row shows the counts the API reports' },
    );
    assert.equal(api.status, 'cancelled');
    assert.equal(api.progress.succeeded, 0);
    assert.equal(api.progress.steps, 6);
    assert.equal(api.progress.pending, 0, 'the days never started count as cancelled');

    await row.getByRole('button', { name: 'Inspect' }).click();
    const detail = page.getByRole('region', { name: `Backfill ${cancelledBackfill.slice(0, 8)}` });
    assert.equal(api.cancelReason, 'wrong month', 'the reason typed with the confirmation');
    await detail.getByText('wrong month').waitFor();
  });

  it('when a backfill is opened, then its status, counts per state and params template show, and Its jobs opens the Jobs page listing exactly its jobs, kept through a reload, each linking back to it', async () => {
    await page.goto(`${system.gatewayUrl}/ui/backfills?open=${formBackfill}`);
    const detail = page.getByRole('region', { name: `Backfill ${formBackfill.slice(0, 8)}` });
    await detail.locator('.status', { hasText: 'succeeded' }).waitFor();
    const api = await backfillOf(formBackfill);
    for (const [state, count] of Object.entries(api.progress)) {
      assert.equal(
        await detail.locator(`td[data-state="${state}"]`).textContent(),
        String(count),
        state,
      );
    }
    assert.deepEqual(JSON.parse((await detail.getByLabel('Params template').textContent()) ?? ''), {
      date: '{{date:yyyyMMdd}}',
    });

    await detail.getByRole('link', { name: 'Its jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('backfillId'), formBackfill);
    const ofBackfill = (
      await system.api<{ items: { id: string }[] }>(
        `/api/v1/jobs?backfillId=${formBackfill}&limit=100`,
      )
    ).body.items.map((j) => j.id);
    assert.equal(ofBackfill.length, 5, 'one job per day');
    const all = (await system.api<{ items: { id: string }[] }>('/api/v1/jobs?limit=100')).body
      .items;
    assert.ok(all.length > ofBackfill.length, 'other jobs exist that the filter must leave out');

    // Each row's first link is its job's.
    const shown = async () =>
      (await hrefs(page.locator('table[aria-label="Jobs"] tbody tr td:first-child a')))
        .map((href) => (href ?? '').split('/').at(-1))
        .sort();
    const expected = [...ofBackfill].sort();
    for (const pass of ['first load', 'after a reload']) {
      if (pass === 'after a reload') await page.reload();
      await waitFor(async () => JSON.stringify(await shown()) === JSON.stringify(expected), {
        message: `exactly the backfill's jobs on the Jobs page (${pass})`,
      });
      assert.equal(await page.getByLabel('Backfill id').inputValue(), formBackfill);
    }

    // A job it made links back to the backfill, opened.
    const made = (
      await system.api<{ items: { id: string; backfillId: string | null }[] }>(
        `/api/v1/jobs?backfillId=${formBackfill}&limit=100`,
      )
    ).body.items.find((j) => j.backfillId === formBackfill);
    assert.ok(made, 'a job the backfill made');
    await page.locator(`table[aria-label="Jobs"] a[href$="/jobs/${made.id}"]`).click();
    await page.getByRole('heading', { name: `Job ${made.id.slice(0, 8)}` }).waitFor();
    await page.locator(`a[href$="/backfills?open=${formBackfill}"]`).click();
    await page
      .getByRole('region', { name: `Backfill ${formBackfill.slice(0, 8)}` })
      .locator('.status', { hasText: 'succeeded' })
      .waitFor();
  });

  it('when the list is narrowed to a platform, then only its backfills show, and the URL keeps the filter through a reload', async () => {
    await page.goto(`${system.gatewayUrl}/ui/backfills`);
    await backfillRows(page).first().waitFor();
    const expected = (await listed(`&platformId=${laps.id}`)).map((b) => b.id);
    assert.deepEqual(expected, [cancelledBackfill]);
    await page
      .getByLabel('Filters')
      .getByLabel('Platform', { exact: true })
      .selectOption({ label: laps.name });
    for (const pass of ['chosen', 'after a reload']) {
      await waitFor(
        async () =>
          JSON.stringify(await rowData(backfillRows(page), 'id')) === JSON.stringify(expected),
        { message: `only ${laps.name}'s backfills (${pass})` },
      );
      assert.equal(new URL(page.url()).searchParams.get('platformId'), laps.id);
      await page.reload();
    }
  });

  it('when a viewer opens Backfills, then it lists them all, a running one too, and its detail and jobs, but offers no button that changes anything', async () => {
    const running = await heldBackfill('2024-07-01', '2024-07-06');
    const viewer = await browser.newContext();
    watch(viewer);
    const p = await viewer.newPage();
    try {
      await signIn(p, system.gatewayUrl, await keyOf('viewer'));
      await p.goto(`${system.gatewayUrl}/ui/backfills`);
      await p
        .locator(`tr[data-id="${running}"]`)
        .locator('.status', { hasText: 'running' })
        .waitFor();
      assert.deepEqual(
        await rowData(backfillRows(p), 'id'),
        (await listed()).map((b) => b.id),
      );
      await p.locator(`tr[data-id="${running}"]`).getByRole('button', { name: 'Inspect' }).click();
      await p.getByRole('region', { name: `Backfill ${running.slice(0, 8)}` }).waitFor();
      const pages: [string, () => Promise<void>][] = [
        ['backfills', async () => {}],
        [
          'jobs',
          async () => {
            await p.goto(`${system.gatewayUrl}/ui/jobs?backfillId=${running}`);
            await p.locator('table[aria-label="Jobs"] tbody tr').first().waitFor();
          },
        ],
      ];
      for (const [name, load] of pages) {
        await load();
        const buttons = (await p.getByRole('button').allTextContents()).map((t) => t.trim());
        const mutating = buttons.filter((b) => !READ_ONLY_BUTTONS.has(b));
        assert.deepEqual(mutating, [], `${name} offers ${mutating.join(', ')}`);
        assert.ok(buttons.includes('Sign out'), `${name} rendered its shell`);
      }
    } finally {
      await viewer.close();
      const cancelled = await system.api(`/api/v1/backfills/${running}/cancel`, { method: 'POST' });
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      releaseLaps();
    }
  });

  it('then no page sent a request anywhere but the gateway, and none logged an error', () => {
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(problems, []);
  });
});
