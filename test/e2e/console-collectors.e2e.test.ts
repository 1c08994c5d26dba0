import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFakePlatform, waitFor, type FakePlatform, type FakeReply } from '@psc/testing';
import { consoleWatch, launchChromium, rowData, signIn } from '../support/browser.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

interface CollectorView {
  name: string;
  platformId: string;
  resource: string;
  params: string[];
  fanOut: boolean;
  enabled: boolean | null;
  stoppedReason: string | null;
  stoppedAt: string | null;
  lastRun: { jobId: string; status: string } | null;
}
interface CollectionView {
  status: string;
  documents: number;
  params: Record<string, unknown>;
  children: { total: number; succeeded: number; failed: number } | null;
}
interface DocumentPage {
  items: { id: string; data: Record<string, unknown> }[];
  nextCursor: string | null;
}
interface ErrorBody {
  error: { message: string; details?: { path: string; message: string }[] };
}

/** Buttons that only read: everything else the pages offer changes something. */
const READ_ONLY_BUTTONS = new Set(['Sign out', 'Previous', 'Next', 'Download JSONL']);

const DATE = '2024-06-01';
const RACES = 12;
const RUNNERS = 3;
/** Races whose card the platform does not have: those children fail. */
const MISSING = [3, 8];
/** Documents the console shows a page at a time. */
const PAGE = 25;
const STOP_REASON = 'source closed for the season';

const collect = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  tasks: ['collect'],
  request: { path: `/${name}` },
  itemsPath: 'items',
  key: 'id',
  mapping: { id: 'id' },
  ...extra,
});

describe(
  'console Collectors page and a collection in headless Chromium',
  { timeout: 300_000 },
  () => {
    let system: System;
    let fake: FakePlatform;
    let browser: Browser;
    let admin: BrowserContext;
    let page: Page;
    const adminName = 'console-collectors-admin';
    const racing = { id: '', name: `racing-${Math.random().toString(36).slice(2, 8)}` };
    const laps = { id: '', name: `laps-${Math.random().toString(36).slice(2, 8)}` };
    /** Race cards the platform holds back until the test lets them go. */
    let holding = true;
    const held: (() => void)[] = [];
    const releaseCards = () => {
      holding = false;
      held.splice(0).forEach((release) => release());
    };
    /** The collection Run once started. */
    let collectionId = '';
    const { elsewhere, problems, watch } = consoleWatch(
      () => system.gatewayUrl,
      // The 422 of a Run once without its param is an answer the form shows.
      (text, url) => /status of 422/.test(text) && url.endsWith('/once'),
    );

    const collectors = async () =>
      (await system.api<{ items: CollectorView[] }>('/api/v1/collectors')).body.items;
    const collectorOf = async (platform: string, resource: string) =>
      (await system.api<CollectorView>(`/api/v1/collectors/${platform}/${resource}/status`)).body;
    const collectionOf = async (id: string) =>
      (await system.api<CollectionView>(`/api/v1/collections/${id}`)).body;
    const documents = async (id: string, query = '') =>
      (await system.api<DocumentPage>(`/api/v1/collections/${id}/documents?${query}`)).body;
    const collectorRows = (p: Page) => p.locator('table[aria-label="Collectors"] tbody tr');
    const row = (p: Page, name: string) => p.locator(`tr[data-name="${name}"]`);

    async function keyOf(role: 'admin' | 'viewer', name: string): Promise<string> {
      const created = await system.api<{ key: string }>('/api/v1/api-keys', {
        body: { name, role },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.key;
    }

    before(async () => {
      fake = await startFakePlatform();
      fake.route('GET', `/meetings/${DATE}`, () => ({
        body: { entries: Array.from({ length: RACES }, (_, race) => ({ race })) },
      }));
      for (let race = 0; race < RACES; race += 1) {
        const reply: FakeReply = MISSING.includes(race)
          ? { status: 404, body: { error: `no card for race ${race}` } }
          : {
              body: {
                runners: Array.from({ length: RUNNERS }, (_, n) => ({
                  race,
                  horse: `h${race}-${n}`,
                })),
              },
            };
        fake.route('GET', `/card/${DATE}/${race}`, () =>
          holding ? new Promise<FakeReply>((resolve) => held.push(() => resolve(reply))) : reply,
        );
      }
      fake.route('GET', '/news', () => ({ body: { items: [{ id: 'n1' }] } }));
      fake.route('GET', '/laps', () => ({ body: { items: [{ id: 'l1' }] } }));
      system = await startSystem({
        name: 'console-collectors',
        services: [],
        env: { PSC_MAX_ATTEMPTS: '2', PSC_RETRY_TIERS_MS: '200' },
      });
      // One after another: five Node processes booting at once on a busy two-core machine can
      // miss the readiness deadline.
      for (const name of SERVICE_NAMES) await system.start(name);
      const definitions = [
        {
          platform: racing,
          // Cards are held at the platform for a while: longer than the default 10 s.
          timeoutMs: 120_000,
          resources: [
            collect('cards', {
              params: ['date'],
              request: { path: '/meetings/{{date}}' },
              itemsPath: 'entries',
              key: 'race',
              mapping: { race: 'race' },
              fanOut: {
                entriesPath: 'entries',
                request: { path: '/card/{{date}}/{{race}}' },
                itemsPath: 'runners',
              },
              // Once a year, on 1 January: scheduled, with a next run, and none during the test.
              schedule: {
                collect: { enabled: true, cron: '0 0 1 1 *', params: { date: '{{date}}' } },
              },
            }),
            collect('news'),
            // A sync resource: no collector.
            {
              name: 'booths',
              request: { path: '/booths' },
              itemsPath: 'items',
              key: 'id',
              mapping: { id: 'id' },
            },
          ],
        },
        { platform: laps, resources: [collect('laps')] },
      ];
      for (const { platform, ...rest } of definitions) {
        const created = await system.api<{ id: string }>('/api/v1/platforms', {
          body: { name: platform.name, baseUrl: fake.url, ...rest },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        platform.id = created.body.id;
      }
      browser = await launchChromium();
      admin = await browser.newContext();
      watch(admin);
      page = await admin.newPage();
      await signIn(page, system.gatewayUrl, await keyOf('admin', adminName));
    });

    after(async () => {
      releaseCards();
      await browser?.close();
      await system?.stop();
      await fake?.stop();
    });

    it('when Collectors is opened, then it lists every platform’s collect resources as the API does, each with its state, params, fan-out and next scheduled run', async () => {
      const schedule = await waitFor(
        async () => {
          const { body } = await system.api<{
            items: { resource: string; taskType: string; nextDueAt: string }[];
          }>(`/api/v1/schedules?platformId=${racing.id}`);
          return body.items.find((s) => s.resource === 'cards' && s.taskType === 'collect');
        },
        { timeoutMs: 30_000, message: 'the cards collect schedule' },
      );
      await page.getByRole('link', { name: 'Collectors' }).click();
      await page.getByRole('heading', { name: 'Collectors' }).waitFor();
      await collectorRows(page).first().waitFor();

      const api = await collectors();
      assert.deepEqual(
        api.map((c) => c.name).sort(),
        [`${laps.name}/laps`, `${racing.name}/cards`, `${racing.name}/news`],
        'the collect resources, and not the sync one',
      );
      assert.deepEqual(
        await rowData(collectorRows(page), 'name'),
        api.map((c) => c.name),
      );
      assert.deepEqual(
        await rowData(collectorRows(page), 'state'),
        api.map((c) => (c.enabled ? 'enabled' : 'stopped')),
      );
      assert.ok(api.every((c) => c.enabled === true));

      const cards = row(page, `${racing.name}/cards`);
      const cells = (await cards.locator('td').allTextContents()).map((t) => t.trim());
      assert.deepEqual(cells.slice(0, 5), [racing.name, 'cards', 'date', 'yes', 'enabled']);
      assert.equal(
        await cards.getByRole('link', { name: racing.name }).getAttribute('href'),
        `/ui/platforms/${racing.id}`,
      );
      await cards.locator(`time[datetime="${schedule.nextDueAt}"]`).waitFor();
      assert.equal(cells[7], 'never collected');
      const news = (await row(page, `${racing.name}/news`).locator('td').allTextContents()).map(
        (t) => t.trim(),
      );
      assert.deepEqual(news.slice(2, 6), ['—', 'no', 'enabled', 'not scheduled (runs on demand)']);
    });

    it('when an admin stops a collector, then it asks for a reason first, and the page and the API show it stopped with that reason and when, and the audit trail who; Start resumes it', async () => {
      const name = `${racing.name}/news`;
      const news = row(page, name);
      const stop = news.getByRole('button', { name: 'Stop', exact: true });
      await stop.click();
      const ask = news.getByRole('form', {
        name: `Stop ${name}? It gets no scheduled runs and its queued ones are cancelled; Run once still runs it.`,
      });
      await ask.waitFor();
      await ask.getByRole('button', { name: 'Keep' }).click();
      await ask.waitFor({ state: 'detached' });
      assert.equal((await collectorOf(racing.name, 'news')).enabled, true, 'not stopped unasked');

      await stop.click();
      await ask.getByLabel('Reason to stop').fill(STOP_REASON);
      await ask.getByRole('button', { name: 'Stop', exact: true }).click();
      await page.locator(`tr[data-name="${name}"][data-state="stopped"]`).waitFor();
      const stopped = await collectorOf(racing.name, 'news');
      assert.deepEqual([stopped.enabled, stopped.stoppedReason], [false, STOP_REASON]);
      assert.ok(stopped.stoppedAt, 'when it was stopped');
      const audit = await system.api<{
        items: { actorKeyId: string; targetId: string; details: Record<string, unknown> }[];
      }>('/api/v1/audit?action=collector.stop');
      assert.equal(audit.body.items[0]?.details.reason, STOP_REASON);
      assert.equal(audit.body.items[0]?.details.resource, 'news');
      // The platform's id, as its other actions have, so the trail narrowed to it finds the stop.
      assert.equal(audit.body.items[0]?.targetId, stopped.platformId);
      const byTarget = await system.api<{ items: { action: string }[] }>(
        `/api/v1/audit?targetId=${stopped.platformId}&action=collector`,
      );
      assert.ok(byTarget.body.items.some((e) => e.action === 'collector.stop'));
      const note = news.locator(`[data-stop-reason="${STOP_REASON}"]`);
      await note.waitFor();
      assert.match((await note.textContent()) ?? '', new RegExp(`^“${STOP_REASON}” · \\d+ s ago$`));
      assert.equal((await news.locator('td').nth(5).textContent())?.trim(), 'none while stopped');
      assert.equal(await stop.count(), 0, 'a stopped collector offers no Stop');

      await news.getByRole('button', { name: 'Start', exact: true }).click();
      await page.locator(`tr[data-name="${name}"][data-state="enabled"]`).waitFor();
      assert.equal((await collectorOf(racing.name, 'news')).enabled, true);
      assert.equal(await note.count(), 0, 'a started collector shows no stop');
      await stop.waitFor();
    });

    it('when Run once is asked of a collector that declares a param, then without its value the API’s 422 naming it shows, and with it a collection starts, linked to its job', async () => {
      const name = `${racing.name}/cards`;
      const cards = row(page, name);
      await cards.getByRole('button', { name: 'Run once' }).click();
      const form = cards.getByRole('form', { name: `Run ${name} once` });
      await form.getByRole('button', { name: 'Run', exact: true }).click();
      const alert = form.getByRole('alert');
      await alert.waitFor();
      const refused = await system.api<ErrorBody>(`/api/v1/collectors/${racing.name}/cards/once`, {
        body: { params: {} },
      });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.match(refused.body.error.message, /date/);
      assert.equal(await alert.locator('p').textContent(), refused.body.error.message);
      assert.deepEqual(
        await alert.locator('li').allTextContents(),
        (refused.body.error.details ?? []).map((d) => `${d.path}: ${d.message}`),
      );
      const jobs = await system.api<{ items: unknown[] }>(
        `/api/v1/jobs?platformId=${racing.id}&taskType=collect`,
      );
      assert.deepEqual(jobs.body.items, [], 'nothing started');

      await form.getByLabel('Value of date').fill(DATE);
      await form.getByRole('button', { name: 'Run', exact: true }).click();
      const status = page.getByRole('status').filter({ hasText: `of ${name} started` });
      await status.waitFor();
      await form.waitFor({ state: 'detached' });
      const href = (await status.getByRole('link').getAttribute('href')) ?? '';
      collectionId = href.split('/').at(-1) ?? '';
      assert.equal(href, `/ui/jobs/${collectionId}`);
      const collection = await collectionOf(collectionId);
      assert.deepEqual(collection.params, { date: DATE });
    });

    it('when the job page of that collection is opened while its children are held, then its Collection section follows it live to the end with the children by state, documents and failed children the API reports', async () => {
      await page.getByRole('status').getByRole('link').click();
      await page.getByRole('heading', { name: `Job ${collectionId.slice(0, 8)}` }).waitFor();
      const section = page.getByRole('region', { name: 'Collection' });
      const count = (state: string) =>
        section.locator(`table[aria-label="Children"] td[data-state="${state}"]`);
      await count('total')
        .filter({ hasText: String(RACES) })
        .waitFor({ timeout: 30_000 });
      await section.locator('.status', { hasText: 'running' }).waitFor();
      const running = await collectionOf(collectionId);
      assert.equal(running.status, 'running');
      assert.equal(running.children?.total, RACES);
      assert.equal(running.children?.succeeded, 0, 'every card is held');

      // No reload from here on: the section follows the collection by itself.
      releaseCards();
      await section.locator('.status', { hasText: 'failed' }).waitFor({ timeout: 60_000 });
      const ended = await collectionOf(collectionId);
      assert.equal(ended.status, 'failed');
      assert.deepEqual(ended.children, {
        total: RACES,
        succeeded: RACES - MISSING.length,
        failed: MISSING.length,
      });
      const children = ended.children;
      const expected = {
        total: children.total,
        succeeded: children.succeeded,
        failed: children.failed,
        pending: children.total - children.succeeded - children.failed,
      };
      for (const [state, n] of Object.entries(expected)) {
        await waitFor(async () => (await count(state).textContent()) === String(n), {
          message: `${state} children shown as ${n}`,
        });
      }
      assert.equal(ended.documents, (RACES - MISSING.length) * RUNNERS);
      await section
        .locator('[data-count="documents"]')
        .filter({ hasText: String(ended.documents) })
        .waitFor();

      // The failures as the collector recorded each child, not its log lines (those expire).
      const failedChildren = await system.api<{
        items: { index: number; status: string; error: string | null; workerId: string | null }[];
      }>(`/api/v1/collections/${collectionId}/children?status=failed`);
      assert.deepEqual(
        failedChildren.body.items.map((c) => c.index),
        MISSING,
      );
      const failed = section.getByRole('table', { name: 'Failed children' });
      await failed
        .locator('tbody tr')
        .nth(MISSING.length - 1)
        .waitFor();
      assert.deepEqual(await rowData(failed.locator('tbody tr'), 'child'), MISSING.map(String));
      for (const child of failedChildren.body.items) {
        const cells = failed.locator(`tr[data-child="${String(child.index)}"] td`);
        assert.equal(await cells.nth(1).textContent(), child.error);
        assert.match(child.error ?? '', /HTTP 404/);
        assert.equal(await cells.nth(3).textContent(), child.workerId);
      }
      const failures = page.getByRole('region', { name: 'Failed children' });
      assert.equal(
        await failures.getByRole('link', { name: 'Open in Logs' }).getAttribute('href'),
        `/ui/logs?level=warn&service=collector&jobId=${collectionId}`,
      );
    });

    it('when its documents are browsed, then each page holds the documents the API pages with its cursor, fields readable, and Download JSONL serves every one', async () => {
      const section = page.getByRole('region', { name: 'Documents' });
      const rows = section.locator('table[aria-label="Documents"] tbody tr');
      const first = await documents(collectionId, `limit=${PAGE}`);
      assert.ok(first.nextCursor, 'more than one page');
      const second = await documents(collectionId, `limit=${PAGE}&cursor=${first.nextCursor}`);
      const ids = (p: DocumentPage) => JSON.stringify(p.items.map((d) => d.id));
      const shownIds = async () => JSON.stringify(await rowData(rows, 'id'));
      await waitFor(async () => (await shownIds()) === ids(first), { message: 'the first page' });
      const doc = first.items[0]!;
      assert.equal(
        await rows.first().locator('td.fields > code').textContent(),
        Object.entries(doc.data)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' '),
      );
      await section.getByText(`1–${PAGE} of ${first.items.length + second.items.length}`).waitFor();

      await section.getByRole('button', { name: 'Next' }).click();
      await waitFor(async () => (await shownIds()) === ids(second), { message: 'the second page' });
      assert.equal(second.nextCursor, null);
      assert.ok(await section.getByRole('button', { name: 'Next' }).isDisabled());
      await section.getByRole('button', { name: 'Previous' }).click();
      await waitFor(async () => (await shownIds()) === ids(first), {
        message: 'back on the first',
      });

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        section.getByRole('button', { name: 'Download JSONL' }).click(),
      ]);
      assert.equal(download.suggestedFilename(), `collection-${collectionId}.jsonl`);
      const text = await readFile(await download.path(), 'utf8');
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; jobId: string });
      assert.deepEqual(
        lines.map((d) => d.id),
        [...first.items, ...second.items].map((d) => d.id),
        'every document, in order',
      );
      assert.ok(lines.every((d) => d.jobId === collectionId));
      const exported = await fetch(
        `${system.gatewayUrl}/api/v1/collections/${collectionId}/documents/export?format=jsonl`,
        { headers: { 'x-api-key': system.adminKey } },
      );
      assert.equal(text, await exported.text(), 'the export route’s own bytes');
    });

    it('when Collectors is narrowed by platform or state, then only those collectors show, the URL keeps the filters through a reload, and the last collection links to its job', async () => {
      const stopped = await system.api(`/api/v1/collectors/${laps.name}/laps/stop`, {
        body: { reason: 'season over' },
      });
      assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
      await page.goto(`${system.gatewayUrl}/ui/collectors`);
      const filters = page.getByLabel('Filters');
      await collectorRows(page).first().waitFor();

      const cards = row(page, `${racing.name}/cards`);
      const last = await collectorOf(racing.name, 'cards');
      assert.equal(last.lastRun?.jobId, collectionId);
      await cards
        .getByRole('link', { name: collectionId.slice(0, 8) })
        .and(page.locator(`[href="/ui/jobs/${collectionId}"]`))
        .waitFor();

      await filters.getByLabel('Platform').selectOption({ label: racing.name });
      const ofRacing = (await collectors()).filter((c) => c.platformId === racing.id);
      for (const pass of ['chosen', 'after a reload']) {
        await waitFor(
          async () =>
            JSON.stringify(await rowData(collectorRows(page), 'name')) ===
            JSON.stringify(ofRacing.map((c) => c.name)),
          { message: `only ${racing.name}'s collectors (${pass})` },
        );
        assert.equal(new URL(page.url()).searchParams.get('platformId'), racing.id);
        await page.reload();
      }

      await filters.getByLabel('Platform').selectOption('');
      await filters.getByLabel('State').selectOption('stopped');
      for (const pass of ['chosen', 'after a reload']) {
        await waitFor(
          async () =>
            JSON.stringify(await rowData(collectorRows(page), 'name')) ===
            JSON.stringify([`${laps.name}/laps`]),
          { message: `only the stopped collector (${pass})` },
        );
        assert.equal(new URL(page.url()).searchParams.get('state'), 'stopped');
        assert.equal(new URL(page.url()).searchParams.get('platformId'), null);
        await page.reload();
      }
      await row(page, `${laps.name}/laps`).locator('[data-stop-reason="season over"]').waitFor();
    });

    it('when a viewer opens Collectors and the collection’s job, then both show what the API reports, but no button that changes anything', async () => {
      const viewer = await browser.newContext();
      watch(viewer);
      const p = await viewer.newPage();
      try {
        await signIn(p, system.gatewayUrl, await keyOf('viewer', 'console-collectors-viewer'));
        const pages: [string, () => Promise<void>][] = [
          [
            'collectors',
            async () => {
              await p.goto(`${system.gatewayUrl}/ui/collectors`);
              await collectorRows(p).first().waitFor();
              assert.deepEqual(
                await rowData(collectorRows(p), 'state'),
                (await collectors()).map((c) => (c.enabled ? 'enabled' : 'stopped')),
              );
              assert.ok((await rowData(collectorRows(p), 'state')).includes('stopped'));
              // Why it was stopped, for every role.
              await p.locator('[data-stop-reason="season over"]').waitFor();
            },
          ],
          [
            'job',
            async () => {
              await p.goto(`${system.gatewayUrl}/ui/jobs/${collectionId}`);
              const section = p.getByRole('region', { name: 'Collection' });
              await section.locator('.status', { hasText: 'failed' }).waitFor();
              await section
                .locator('table[aria-label="Documents"] tbody tr')
                .nth(PAGE - 1)
                .waitFor();
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
      }
    });

    it('then no page sent a request anywhere but the gateway, and none logged an error', () => {
      assert.deepEqual(elsewhere, []);
      assert.deepEqual(problems, []);
    });
  },
);
