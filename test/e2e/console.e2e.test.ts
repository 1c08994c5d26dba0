import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook as Verifier } from 'standardwebhooks';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { consoleWatch, launchChromium, rowData, signIn } from '../support/browser.ts';
import { boothPagesResource, boothPlatform, ordersResource } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

interface JobView {
  id: string;
  status: string;
  trigger: string;
}
interface LogView {
  id: string;
  level: string;
  message: string;
}

/** Buttons that only read: everything else a page offers changes something. */
const READ_ONLY_BUTTONS = new Set([
  'Sign out',
  'Inspect',
  'Hide',
  'Diffs',
  'Previous',
  'Next',
  'Download JSONL',
  'Download CSV',
  'Older',
  'Newer',
  'Clear filters',
  'Deliveries',
  'Open job',
]);

const SECRET = 'tok-console-secret-1';

describe('operator console in headless Chromium', () => {
  let system: System;
  let fake: FakePlatform;
  let receiver: WebhookReceiver;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let platformId = '';
  /** The job "Sync once" ran. */
  let syncedJobId = '';
  /** A dead job left in the queue for the viewer to see (without a Replay button). */
  let deadForViewer = '';
  /** A job that retried, died and succeeded as a replay: log lines of every level. */
  let replayedJobId = '';
  const { elsewhere, problems, watch } = consoleWatch(
    () => system.gatewayUrl,
    // A 401 for a wrong key, 403s, the 422 of a platform test without its param, of a webhook to a
    // refused address and of a replay with a [redacted] param are answers the page shows.
    (text, url) =>
      /status of 40[13]/.test(text) ||
      (/status of 422/.test(text) &&
        (url.endsWith('/test') || url.endsWith('/api/v1/webhooks') || url.endsWith('/replay'))),
  );

  /**
   * A platform whose one resource, `orders`, answers 500 until `fake.setFault(null, { path })`;
   * with `breaker` as given. Returns its id and the resource's path.
   */
  async function failingPlatform(breaker: Record<string, number>) {
    const path = `/orders-${Math.random().toString(36).slice(2, 8)}`;
    fake.setCollection(path, boothSample(5));
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path });
    const definition = boothPlatform(fake.url, {
      breaker,
      resources: [ordersResource(path)],
    });
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: definition });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.id, name: definition.name, path };
  }

  /** A job that died on 500s and is in the dead-letter queue; its platform answers again. */
  async function deadJob(): Promise<string> {
    const { id, path } = await failingPlatform({
      volumeThreshold: 1_000,
      errorThresholdPercentage: 100,
      resetTimeoutMs: 1_000,
    });
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      // A credential among the params: the dead-letter view must never show it.
      body: {
        platformId: id,
        resource: 'orders',
        params: { full: true, token: SECRET },
      },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const jobId = run.body.jobs[0]?.id ?? '';
    await waitFor(
      async () => {
        const dlq = await system.api<{ items: { jobId: string | null }[] }>('/api/v1/dlq');
        return dlq.body.items.some((d) => d.jobId === jobId);
      },
      { timeoutMs: 30_000, message: 'job in the dead-letter queue' },
    );
    fake.setFault(null, { path });
    return jobId;
  }

  before(async () => {
    fake = await startFakePlatform({ collections: { '/booth/all': boothSample(25) } });
    receiver = await startWebhookReceiver();
    system = await startSystem({
      name: 'console',
      services: [],
      env: { PSC_RETRY_TIERS_MS: '200,400,800' },
    });
    // One after another: five Node processes booting at once on a busy two-core machine can
    // miss the 30 s readiness deadline. The collector reports the workers the overview lists.
    for (const name of SERVICE_NAMES) await system.start(name);
    browser = await launchChromium();
    admin = await browser.newContext();
    watch(admin);
    page = await admin.newPage();
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
    await receiver?.stop();
    await fake?.stop();
  });

  it('when /ui is fetched without a key, then the page, its hashed assets and deep links are served with a strict CSP, while the API still wants a key', async () => {
    const html = await fetch(`${system.gatewayUrl}/ui`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(html.headers.get('cache-control'), 'no-cache');
    const csp = html.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /connect-src 'self';/);
    const body = await html.text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(body)?.[1];
    assert.ok(script, 'the page loads a hashed script');
    assert.ok(!/https?:\/\//.test(body), 'the page names no other origin');

    const asset = await fetch(`${system.gatewayUrl}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');

    const deep = await fetch(`${system.gatewayUrl}/ui/jobs/0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10`);
    assert.equal(deep.status, 200);
    assert.equal(await deep.text(), body, 'a deep link gets the page');
    assert.equal((await fetch(`${system.gatewayUrl}/ui/assets/gone-123.js`)).status, 404);
    assert.equal((await fetch(`${system.gatewayUrl}/ui`, { method: 'POST' })).status, 405);
    assert.equal((await system.api('/api/v1/me', { apiKey: null })).status, 401);
  });

  it('when an admin signs in with a wrong key and then the right one, then the first is refused and the overview shows the pipeline, scheduler and workers, the key kept in session storage only', async () => {
    await page.goto(`${system.gatewayUrl}/ui/`);
    await page.getByLabel('API key').fill('psc_not_a_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Unknown or revoked API key' }).waitFor();

    await signIn(page, system.gatewayUrl, system.adminKey);
    const pipeline = page.getByLabel('Pipeline');
    await pipeline
      .locator('.status')
      .filter({ hasText: /idle|busy|degraded|stalled/ })
      .waitFor();
    await page
      .getByLabel('Scheduler state')
      .locator('.status')
      .filter({ hasText: 'running' })
      .waitFor();
    await page.getByRole('cell', { name: 'sync-worker', exact: true }).first().waitFor();
    assert.equal(await page.locator('header .who').textContent(), 'admin');

    // Runs in the page; a string, as this file is typed for Node, not the DOM.
    const storage: unknown = await page.evaluate(`({
      session: sessionStorage.getItem('psc.apiKey'),
      local: localStorage.length,
    })`);
    assert.deepEqual(storage, { session: system.adminKey, local: 0 });
    assert.deepEqual(await admin.cookies(), [], 'no cookie');
  });

  it('when the admin registers a platform through the form, then its page opens and the API lists it', async () => {
    const definition = boothPlatform(fake.url);
    await page.getByRole('link', { name: 'Platforms' }).click();
    await page.getByRole('button', { name: 'Register a platform' }).click();
    const form = page.getByRole('form', { name: 'Register a platform' });
    await form.getByLabel('Name', { exact: true }).fill(definition.name);
    await form.getByLabel('Base URL').fill(fake.url);
    await form.getByLabel('Resources (JSON)').fill(JSON.stringify(definition.resources));
    await form.getByRole('button', { name: 'Register' }).click();

    await page.getByRole('heading', { name: definition.name }).waitFor();
    platformId = page.url().split('/').at(-1) ?? '';
    const listed = await system.api<{ items: { id: string; name: string }[] }>('/api/v1/platforms');
    assert.ok(
      listed.body.items.some((p) => p.id === platformId && p.name === definition.name),
      'the API lists the new platform under the id the page shows',
    );
  });

  it('when Sync once is pressed, then the page shows the job live until it succeeded with every page and record, and the records browser lists them', async () => {
    await page.getByRole('button', { name: 'Sync once' }).click();
    const progress = page.getByRole('table', { name: 'Sync progress' });
    const done = progress.locator('tr[data-status="succeeded"]');
    await done.waitFor({ timeout: 30_000 });
    const cells = await done.locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 2), ['booths', 'succeeded']);
    assert.ok(Number(cells[2]) >= 1, `pages ${cells[2]}`);
    assert.equal(cells[3], '25', 'records');
    assert.equal(cells[4], '25 / 25 / 0 / 0', 'fetched / inserted / updated / unchanged');

    const href = (await done.getByRole('link').getAttribute('href')) ?? '';
    syncedJobId = href.split('/').at(-1) ?? '';
    const job = await system.api<JobView & { stats: { fetched: number } | null }>(
      `/api/v1/jobs/${syncedJobId}`,
    );
    assert.equal(job.body.status, 'succeeded', 'the job the page followed succeeded');
    assert.equal(job.body.stats?.fetched, 25);
    const records = page.getByRole('table', { name: 'Records' });
    await waitFor(async () => (await records.locator('tbody tr').count()) === 25, {
      timeoutMs: 10_000,
      message: 'the 25 synced records listed',
    });
  });

  it('when a finished job is opened, then its page shows the job’s own log lines, its outcome among them', async () => {
    await page.goto(`${system.gatewayUrl}/ui/jobs/${syncedJobId}`);
    const log = page.getByRole('table', { name: 'Job log' });
    const outcome = log.locator('tr', { hasText: 'job succeeded' });
    // Services ship their lines every half second: the page polls until they are in.
    await outcome.waitFor({ timeout: 20_000 });
    const cells = await outcome.locator('td').allTextContents();
    assert.deepEqual(cells.slice(1, 4), ['info', 'sync-worker', 'job succeeded']);
    assert.match(cells[4] ?? '', /stats=\{.*"fetched":25/);
  });

  it('when a resource whose request needs a param is tested, then the page names the missing param, and with a value typed in shows the platform reachable with its items', async () => {
    const definition = boothPlatform(fake.url, { resources: [boothPagesResource()] });
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: definition });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await page.goto(`${system.gatewayUrl}/ui/platforms/${created.body.id}`);
    await page.getByRole('heading', { name: definition.name }).waitFor();
    const test = page.getByRole('button', { name: 'Test connection' });

    await test.click();
    await page.getByRole('alert').filter({ hasText: 'request needs parameter "day"' }).waitFor();

    await page.getByLabel('Value of day').fill('2026-01-01');
    await test.click();
    const status = page.getByRole('status').filter({ hasText: 'reachable' });
    await status.waitFor();
    assert.match((await status.textContent()) ?? '', /reachable · HTTP 200 · \d+ ms · 25 items/);
  });

  it('when a platform’s breaker is open, then the overview links to it by name and its page’s Reset breaker closes it on the workers, audited', async () => {
    const { id, name, path } = await failingPlatform({
      volumeThreshold: 1,
      errorThresholdPercentage: 1,
      resetTimeoutMs: 600_000,
    });
    await system.api('/api/v1/run/sync', { body: { platformId: id, resource: 'orders' } });
    const stateOf = async () =>
      (
        await system.api<{ items: { service: string; state: string }[] }>(
          `/api/v1/monitoring/breakers?platformId=${id}`,
        )
      ).body.items.find((b) => b.service === 'sync-worker')?.state;
    await waitFor(async () => (await stateOf()) === 'open', {
      message: 'the breaker opened',
      timeoutMs: 20_000,
    });
    fake.setFault(null, { path });

    await page.goto(`${system.gatewayUrl}/ui/`);
    await page.getByLabel('Open breakers').getByRole('link', { name }).click();
    const reset = page.getByRole('button', { name: 'Reset breaker' });
    await waitFor(async () => await reset.isEnabled(), { message: 'Reset breaker offered' });
    await reset.click();
    await waitFor(async () => (await stateOf()) === 'closed', {
      message: 'the breaker closed',
      timeoutMs: 20_000,
    });
    await waitFor(async () => await reset.isDisabled(), {
      message: 'the page shows it closed',
      timeoutMs: 20_000,
    });
    const audit = await system.api<{ items: { action: string; targetId: string }[] }>(
      `/api/v1/audit?targetId=${id}`,
    );
    assert.ok(audit.body.items.some((a) => a.action === 'breaker.reset'));
  });

  it('when a dead job is replayed from the dead-letter page, then it leaves the list and ends succeeded as a replay', async () => {
    const [jobId, deadId] = await Promise.all([deadJob(), deadJob()]);
    [replayedJobId, deadForViewer] = [jobId, deadId];
    await page.goto(`${system.gatewayUrl}/ui/dlq`);
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: 'Replay' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 1 job' }).waitFor();
    await row.waitFor({ state: 'detached' });
    const job = await waitFor(
      async () => {
        const j = (await system.api<JobView>(`/api/v1/jobs/${jobId}`)).body;
        return j.status === 'succeeded' ? j : undefined;
      },
      { timeoutMs: 30_000, message: 'replayed job succeeded' },
    );
    assert.equal(job.trigger, 'replay');
  });

  it('when a dead letter is inspected, then its reason, headers and payload show pretty-printed, its secret redacted', async () => {
    await page.goto(`${system.gatewayUrl}/ui/dlq`);
    const row = page.locator(`tr[data-job="${deadForViewer}"]`);
    await row.getByRole('button', { name: 'Inspect' }).click();
    const letter = page.getByRole('region', { name: 'Dead letter' });
    await letter
      .getByText(/upstream_status/)
      .first()
      .waitFor();
    const payload = (await letter.getByLabel('Payload').textContent()) ?? '';
    assert.match(payload, new RegExp(`\n {4}"jobId": "${deadForViewer}",\n`), payload);
    assert.match(payload, /"type": "job.run"/);
    assert.match(payload, /"token": "\[redacted\]"/);
    assert.match((await letter.getByLabel('Headers').textContent()) ?? '', /"x-psc-attempt": 4/);
    assert.ok(!(await page.content()).includes(SECRET), 'the page holds no secret');
    await row.getByRole('button', { name: 'Hide' }).click();
    await letter.waitFor({ state: 'detached' });
  });

  it('when a dead job is replayed with edited params from its inspect view, then the changed and removed params are what its run takes, its secret is never shown yet kept, [redacted] sent back is refused, and the reason is audited', async () => {
    const jobId = await deadJob();
    await page.goto(`${system.gatewayUrl}/ui/dlq`);
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await row.getByRole('button', { name: 'Inspect' }).click();
    const form = page.getByRole('form', { name: 'Replay with params' });
    const editor = form.getByLabel('Params');
    // The editor holds the job's params but the token, which it never had.
    assert.deepEqual(JSON.parse(await editor.inputValue()), { full: true });

    await editor.fill('{"full": true, "token": "[redacted]"}');
    await form.getByRole('button', { name: 'Replay with these params' }).click();
    await form
      .getByRole('alert')
      .getByText('body.params.token: [redacted] is not a value')
      .waitFor();
    assert.equal((await system.api<JobView>(`/api/v1/jobs/${jobId}`)).body.status, 'dead');

    await editor.fill('{"since": "2026-01-01"}');
    await form.getByLabel('Reason for the replay').fill('full sync was not meant');
    await form.getByRole('button', { name: 'Replay with these params' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 1 job' }).waitFor();
    await row.waitFor({ state: 'detached' });
    const job = await waitFor(
      async () => {
        const j = (
          await system.api<JobView & { params: Record<string, unknown> }>(`/api/v1/jobs/${jobId}`)
        ).body;
        return j.status === 'succeeded' ? j : undefined;
      },
      { timeoutMs: 30_000, message: 'the job replayed with edited params succeeded' },
    );
    // `full` removed, `since` added, the token kept (the API shows it redacted, as everywhere).
    assert.deepEqual(
      [job.trigger, job.params],
      ['replay', { since: '2026-01-01', token: '[redacted]' }],
    );
    const audit = await system.api<{
      items: { action: string; details: { reason?: string } }[];
    }>(`/api/v1/audit?targetId=${jobId}`);
    assert.deepEqual(
      audit.body.items.map((a) => [a.action, a.details.reason]),
      [['dlq.replay', 'full sync was not meant']],
    );
    assert.ok(!(await page.content()).includes(SECRET), 'the page holds no secret');
  });

  it('when the Logs page is narrowed to a job and then to warn and above, then the job’s info lines go while its retries stay, newest first, the URL keeps the filters through a reload, and a line’s job link opens the job', async () => {
    await page.getByRole('link', { name: 'Logs', exact: true }).click();
    const lines = page.getByRole('table', { name: 'Log lines' });
    await lines.locator('tbody tr').first().waitFor();
    await page.getByLabel('Job id').fill(replayedJobId);
    const query = () => Object.fromEntries(new URL(page.url()).searchParams);
    await waitFor(() => query().jobId === replayedJobId, { message: 'the job id in the URL' });
    const succeeded = lines.locator('tr', { hasText: 'job succeeded' });
    const retrying = lines.locator('tr', { hasText: 'job retrying' });
    // Services ship their lines every half second: the page follows until they are in.
    await succeeded.waitFor({ timeout: 20_000 });
    await retrying.first().waitFor({ timeout: 20_000 });
    const jobs = await lines.locator('tbody tr td:nth-child(6)').allTextContents();
    assert.deepEqual(new Set(jobs), new Set([replayedJobId.slice(0, 8)]), 'only the job’s lines');
    assert.equal(await succeeded.locator('td').nth(1).textContent(), 'info');

    await page.getByLabel('Level').selectOption('warn');
    await succeeded.waitFor({ state: 'detached' });
    await retrying.first().waitFor();
    assert.deepEqual(query(), { jobId: replayedJobId, level: 'warn' });
    const levels = async () => new Set(await rowData(lines.locator('tbody tr'), 'level'));
    assert.deepEqual(await levels(), new Set(['warn', 'error']), 'its retries and its death');

    await page.reload();
    await retrying.first().waitFor();
    assert.equal(await page.getByLabel('Level').inputValue(), 'warn');
    assert.equal(await page.getByLabel('Job id').inputValue(), replayedJobId);
    assert.deepEqual(await levels(), new Set(['warn', 'error']));
    const shown = await rowData(lines.locator('tbody tr'), 'id');
    const api = await system.api<{ items: LogView[] }>(
      `/api/v1/logs?jobId=${replayedJobId}&level=warn`,
    );
    assert.deepEqual(
      shown,
      api.body.items.map((l) => l.id),
      'the API’s lines, newest first',
    );

    await retrying
      .first()
      .getByRole('link', { name: replayedJobId.slice(0, 8) })
      .click();
    await page.getByRole('heading', { name: `Job ${replayedJobId.slice(0, 8)}` }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/ui/jobs/${replayedJobId}`);
  });

  it('when a platform has more log lines than a page, then Logs shows the newest 100, Older the 100 before them and Newer the newest again, as the API orders them, and a line’s platform link opens the platform', async () => {
    const path = `/many-${Math.random().toString(36).slice(2, 8)}`;
    fake.setCollection(path, boothSample(2));
    const resources = Array.from({ length: 60 }, (_, i) => ({
      name: `part-${i}`,
      request: { path },
      itemsPath: 'data',
      key: 'boothName',
      mapping: { name: 'boothName' },
    }));
    const definition = boothPlatform(fake.url, { resources });
    const created = await system.api<{ id: string }>('/api/v1/platforms', { body: definition });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    /** Runs every resource once and waits until each job's success line is stored. */
    async function syncAll(succeeded: number): Promise<LogView[]> {
      const run = await system.api<{ jobs: unknown[] }>('/api/v1/run/sync', {
        body: { platformId: id },
      });
      assert.equal(run.body.jobs.length, 60, JSON.stringify(run.body));
      return waitFor(
        async () => {
          const { body } = await system.api<{ items: LogView[] }>(
            `/api/v1/logs?platformId=${id}&limit=1000`,
          );
          const done = body.items.filter((l) => l.message === 'job succeeded').length;
          return done === succeeded ? body.items : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, message: `${succeeded} job succeeded lines` },
      );
    }
    // A job's success is its one line at info: two runs of 60 resources make more than a page.
    await syncAll(60);
    const all = await syncAll(120);
    assert.ok(all.length > 100, `${all.length} lines`);
    const second = Math.min(all.length, 200);

    await page.goto(`${system.gatewayUrl}/ui/logs?platformId=${id}`);
    const rows = page.getByRole('table', { name: 'Log lines' }).locator('tbody tr');
    const ids = () => rowData(rows, 'id');
    await waitFor(async () => (await rows.count()) === 100, { message: 'the first 100 lines' });
    assert.deepEqual(
      await ids(),
      all.slice(0, 100).map((l) => l.id),
      'the newest 100',
    );
    const older = page.getByRole('button', { name: 'Older' });
    await older.click();
    await waitFor(async () => (await rows.count()) === second - 100, {
      message: 'the next page',
    });
    assert.deepEqual(
      await ids(),
      all.slice(100, second).map((l) => l.id),
      'the 100 before them, none twice, none skipped',
    );
    await page.getByText(`${second - 100} lines, page 2`).waitFor();
    assert.equal(await older.isDisabled(), all.length <= second, 'Older only while there are more');
    await page.getByRole('button', { name: 'Newer' }).click();
    await waitFor(async () => (await ids())[0] === all[0]!.id, { message: 'back to the newest' });

    await rows.first().getByRole('link', { name: definition.name }).click();
    await page.getByRole('heading', { name: definition.name }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/ui/platforms/${id}`);
  });

  it('when jobs have ended, then the overview counts them by status, in flight and finished in the last hour, and the dead letters, as the scheduler does', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    const counts = page.getByRole('table', { name: 'Job counts' });
    const row = async (name: string) =>
      (await counts.getByRole('row', { name: new RegExp(`^${name}`) }).textContent()) ?? '';
    type Counts = Record<string, number>;
    const shown = (counts: Counts) =>
      Object.entries(counts)
        .map(([status, n]) => `${status} ${n}`)
        .join('');
    // The page reads the same endpoint every 2 s: wait until it shows what the API answers now.
    const api = await waitFor(
      async () => {
        const { body } = await system.api<{
          counts: {
            jobs: Counts;
            finishedLastHour: Counts;
            deadLetters: { count: number; atLeast: boolean };
          };
        }>('/api/v1/scheduler');
        const now = `Now${shown(body.counts.jobs)}`;
        const finished = `Finished in the last hour${shown(body.counts.finishedLastHour)}`;
        const dead = String(body.counts.deadLetters.count);
        return (await row('Now')) === now &&
          (await row('Finished')) === finished &&
          (await page.getByTestId('dlq-size').textContent()) === dead
          ? body.counts
          : undefined;
      },
      { timeoutMs: 15_000, message: 'the overview shows the scheduler’s job counts' },
    );
    // Sync once and the replayed job succeeded; the other dead job is still dead.
    assert.ok(api.finishedLastHour.succeeded! >= 2, JSON.stringify(api));
    assert.equal(await page.getByTestId('dlq-size').textContent(), String(api.deadLetters.count));
    assert.ok(api.deadLetters.count >= 1 && !api.deadLetters.atLeast, JSON.stringify(api));
    assert.ok(api.finishedLastHour.dead! >= 1, JSON.stringify(api));
    assert.deepEqual(Object.keys(api.jobs), ['queued', 'running', 'retrying', 'waiting']);
  });

  it('when the scheduler is paused with a reason, then the page and the API show it paused with that reason', async () => {
    await page.getByRole('link', { name: 'Scheduler', exact: true }).click();
    const state = page.getByLabel('Scheduler state');
    await state.locator('.status').filter({ hasText: 'running' }).waitFor();
    await state.getByRole('button', { name: 'Pause', exact: true }).click();
    await state.getByLabel('Reason to pause').fill('database upgrade');
    await state.getByRole('button', { name: 'Pause', exact: true }).click();

    await state.locator('.status').filter({ hasText: 'paused' }).waitFor();
    await state.getByText('database upgrade').waitFor();
    const status = await system.api<{ state: string; reason: string | null }>('/api/v1/scheduler');
    assert.deepEqual(
      { state: status.body.state, reason: status.body.reason },
      { state: 'paused', reason: 'database upgrade' },
    );
  });

  it('when an admin creates a webhook to a receiver, then its secret shows once, Send test delivers a signed ping listed among its deliveries, and it can be disabled, enabled and deleted', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('URL').fill(`${receiver.url}/console`);
    await form.getByLabel('job.dead').check();
    await form.getByLabel('breaker.opened').check();
    await form.getByRole('button', { name: 'Create webhook' }).click();

    const notice = page.getByRole('region', { name: 'Signing secret' });
    const secret = await notice.getByLabel('Secret').inputValue();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    await notice.getByText('will not be shown again').waitFor();
    const listed = await system.api<{ items: { id: string; url: string; events: string[] }[] }>(
      '/api/v1/webhooks',
    );
    const hook = listed.body.items.find((h) => h.url === `${receiver.url}/console`);
    assert.deepEqual(hook?.events, ['job.dead', 'breaker.opened']);
    const id = hook?.id ?? '';
    await notice.getByRole('button', { name: 'I have copied it' }).click();
    await notice.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');

    const row = page.locator(`tr[data-id="${id}"]`);
    assert.match(
      (await row.locator('td').nth(1).textContent()) ?? '',
      /job\.dead, breaker\.opened/,
    );
    await row.getByRole('button', { name: 'Send test' }).click();
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    const ping = deliveries.locator('tr[data-event="webhook.test"][data-status="succeeded"]');
    await ping.waitFor({ timeout: 20_000 });
    assert.match((await ping.locator('td').nth(4).textContent()) ?? '', /^HTTP 204 · \d+ ms$/);
    const deliveryId = await ping.locator('td').first().textContent();
    const [received] = receiver.at('/console');
    assert.ok(received, 'the receiver got the ping');
    assert.equal(received.headers['webhook-id'], deliveryId, 'the delivery the page lists');
    const body = new Verifier(secret).verify(received.body, {
      'webhook-id': String(received.headers['webhook-id']),
      'webhook-timestamp': String(received.headers['webhook-timestamp']),
      'webhook-signature': String(received.headers['webhook-signature']),
    }) as { type: string };
    assert.equal(body.type, 'webhook.test', 'signed with the secret the page showed');

    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled by hand').waitFor();
    assert.equal(await row.getByRole('button', { name: 'Send test' }).isDisabled(), true);
    const off = await system.api<{ enabled: boolean }>(`/api/v1/webhooks/${id}`);
    assert.equal(off.body.enabled, false);
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.locator('.status', { hasText: 'enabled' }).waitFor();

    await page.reload();
    await row.waitFor();
    assert.ok(!(await page.content()).includes(secret), 'nor shown after a reload');
    await row.getByRole('button', { name: 'Delete' }).click();
    const confirm = row.getByRole('group', { name: 'Delete this webhook and its delivery log?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await system.api(`/api/v1/webhooks/${id}`)).status, 200, 'Cancel keeps it');
    await row.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await system.api(`/api/v1/webhooks/${id}`)).status, 404);
  });

  it('when an admin gives a new webhook its own signing secret, then a malformed one is refused with the reason, a good one is not shown back, and a test delivery is signed with it', async () => {
    await page.goto(`${system.gatewayUrl}/ui/webhooks`);
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('URL').fill(`${receiver.url}/own-secret`);
    await form.getByLabel('job.dead').check();
    await form.getByLabel('Signing secret').fill('not-a-secret');
    await form.getByRole('button', { name: 'Create webhook' }).click();
    await form
      .getByRole('alert')
      .getByText('body.secret: must be whsec_ followed by base64 of 24 to 64 random bytes', {
        exact: true,
      })
      .waitFor();

    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    await form.getByLabel('Signing secret').fill(secret);
    await form.getByRole('button', { name: 'Create webhook' }).click();
    await form.waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('region', { name: 'Signing secret' }).count(), 0);
    assert.ok(!(await page.content()).includes(secret), 'the secret is not on the page');
    const listed = await system.api<{ items: { id: string; url: string }[] }>('/api/v1/webhooks');
    const id = listed.body.items.find((h) => h.url === `${receiver.url}/own-secret`)?.id ?? '';
    assert.ok(id, 'created');

    const row = page.locator(`tr[data-id="${id}"]`);
    await row.getByRole('button', { name: 'Send test' }).click();
    const received = await waitFor(() => receiver.at('/own-secret')[0], {
      timeoutMs: 20_000,
      message: 'the receiver got the test delivery',
    });
    const body = new Verifier(secret).verify(received.body, {
      'webhook-id': String(received.headers['webhook-id']),
      'webhook-timestamp': String(received.headers['webhook-timestamp']),
      'webhook-signature': String(received.headers['webhook-signature']),
    }) as { type: string };
    assert.equal(body.type, 'webhook.test', 'signed with the secret the admin gave');
    assert.equal((await system.api(`/api/v1/webhooks/${id}`, { method: 'DELETE' })).status, 204);
  });

  it('when a webhook’s URL is a cloud metadata address, then the form shows the API’s 422 message and its reason, and nothing is created', async () => {
    const before = (await system.api<{ items: unknown[] }>('/api/v1/webhooks')).body.items.length;
    await page.goto(`${system.gatewayUrl}/ui/webhooks`);
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('URL').fill('http://169.254.169.254/latest/meta-data');
    await form.getByLabel('job.failed').check();
    await form.getByRole('button', { name: 'Create webhook' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    assert.match(
      (await alert.locator('p').textContent()) ?? '',
      /^egress denied: 169\.254\.169\.254 is a blocked address \(link-local or cloud metadata\)$/,
    );
    assert.equal(await alert.locator('li').textContent(), 'reason=link-local or cloud metadata');
    assert.equal(await page.getByRole('region', { name: 'Signing secret' }).count(), 0);
    const after = (await system.api<{ items: unknown[] }>('/api/v1/webhooks')).body.items.length;
    assert.equal(after, before);
  });

  it('when an operator opens Webhooks, then it lists the subscriptions and their deliveries but offers no create, test, enable, disable or delete (the API keeps those to admins)', async () => {
    const hook = await system.api<{ id: string }>('/api/v1/webhooks', {
      body: { url: `${receiver.url}/operator`, events: ['job.failed'] },
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const key = await system.api<{ key: string }>('/api/v1/api-keys', {
      body: { name: 'console-operator', role: 'operator' },
    });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const operator = await browser.newContext();
    watch(operator);
    const p = await operator.newPage();
    try {
      await signIn(p, system.gatewayUrl, key.body.key);
      await p.goto(`${system.gatewayUrl}/ui/webhooks`);
      const row = p.locator(`tr[data-id="${hook.body.id}"]`);
      await row.getByRole('button', { name: 'Deliveries' }).click();
      await p.getByText('No deliveries yet.').waitFor();
      const buttons = (await p.getByRole('button').allTextContents()).map((t) => t.trim());
      assert.deepEqual(buttons.sort(), ['Hide', 'Sign out']);
    } finally {
      await operator.close();
    }
  });

  it('when a viewer signs in, then no page offers a button that changes anything', async () => {
    const created = await system.api<{ key: string }>('/api/v1/api-keys', {
      body: { name: 'console-viewer', role: 'viewer' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const deadId = deadForViewer;
    const viewer = await browser.newContext();
    watch(viewer);
    const p = await viewer.newPage();
    try {
      await signIn(p, system.gatewayUrl, created.body.key);
      assert.equal(await p.locator('header .who').textContent(), 'viewer');
      const pages: [string, () => Promise<void>][] = [
        ['/', () => p.getByLabel('Pipeline').locator('.status').first().waitFor()],
        ['/platforms', () => p.locator('table[aria-label="Platforms"] tbody tr').first().waitFor()],
        [`/platforms/${platformId}`, () => p.getByRole('heading', { name: 'Schedule' }).waitFor()],
        ['/jobs', () => p.locator('table[aria-label="Jobs"] tbody tr').first().waitFor()],
        [
          `/jobs/${deadId}`,
          // A dead job has no stats, and the page says why rather than "yet".
          () => p.getByText('None: the job ended dead, and stats come with a success').waitFor(),
        ],
        [
          '/dlq',
          async () => {
            await p
              .locator(`tr[data-job="${deadId}"]`)
              .getByRole('button', { name: 'Inspect' })
              .click();
            await p.getByRole('region', { name: 'Dead letter' }).getByLabel('Payload').waitFor();
          },
        ],
        [
          `/logs?jobId=${deadId}`,
          () => p.getByRole('table', { name: 'Log lines' }).locator('tbody tr').first().waitFor(),
        ],
        [
          '/webhooks',
          async () => {
            await p.getByRole('button', { name: 'Deliveries' }).first().click();
            await p.getByRole('region', { name: 'Delivery log' }).waitFor();
          },
        ],
        [
          '/scheduler',
          () => p.getByLabel('Scheduler state').locator('.status', { hasText: 'paused' }).waitFor(),
        ],
      ];
      for (const [path, loaded] of pages) {
        await p.goto(`${system.gatewayUrl}/ui${path}`);
        await loaded();
        const buttons = (await p.getByRole('button').allTextContents()).map((t) => t.trim());
        const mutating = buttons.filter((b) => !READ_ONLY_BUTTONS.has(b));
        assert.deepEqual(mutating, [], `${path} offers ${mutating.join(', ')}`);
        assert.ok(buttons.includes('Sign out'), `${path} rendered its shell`);
      }
      assert.equal(
        await p.getByRole('form', { name: 'Register a platform' }).count(),
        0,
        'no register form',
      );
    } finally {
      await viewer.close();
    }
  });

  it('then no page sent a request anywhere but the gateway, and none logged an error', () => {
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(problems, []);
  });
});
