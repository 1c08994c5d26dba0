import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { consoleWatch, launchChromium, signIn } from '../support/browser.ts';
import { boothPlatform } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

interface PlatformView {
  id: string;
  name: string;
  version: number;
  active: boolean;
  priority: number;
  description: string;
  auth: { type: string; token?: string };
  schedule?: { sync?: { enabled?: boolean; intervalSeconds?: number } };
  resources: { request: { method?: string } }[];
}
interface SyncStatusView {
  syncInterval: number | null;
  nextFireTimes: string[];
}
interface ErrorView {
  error: { code: string; message: string; details?: { path: string; message: string }[] };
}

/** The bearer token the fake platform insists on; the console only ever shows it as `***`. */
const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
/** What only an admin is offered on a platform's page. */
const ADMIN_BUTTONS = ['Edit', 'Close editor', 'Activate', 'Deactivate', 'Retire', 'Save'];

describe('console: an admin edits, deactivates and retires a platform, in headless Chromium', () => {
  let system: System;
  let fake: FakePlatform;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let platformId = '';
  let name = '';
  /** Another platform, so the list the retirement lands on has a row to wait for. */
  let otherName = '';
  const { elsewhere, problems, watch } = consoleWatch(
    () => system.gatewayUrl,
    // The 412 of a stale save and the 422 of an invalid one are answers the page shows; a poll of
    // the retired platform's page that crossed its retirement gets its 404.
    (text, url) =>
      (/status of (412|422)/.test(text) && url.endsWith(`/platforms/${platformId}`)) ||
      (/status of 404/.test(text) && url.includes(`/platforms/${platformId}`)),
  );

  const read = async () => {
    const got = await system.api<PlatformView>(`/api/v1/platforms/${platformId}`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    return got.body;
  };
  const heading = () => page.getByRole('heading', { level: 1 });
  /** The page's summary line (`… · version N …`) shows `version`. */
  const showsVersion = (version: number) =>
    page
      .locator('p.muted', { hasText: new RegExp(`· version ${version}(\\D|$)`) })
      .first()
      .waitFor();
  const button = (name: string, within: Page | Locator = page) =>
    within.getByRole('button', { name, exact: true });
  const editor = () => page.getByRole('form', { name: 'Edit platform' });
  // Not `exact`: a label's text includes the text of the textarea it wraps.
  const editorText = () => editor().getByLabel('Platform (JSON)');
  /** Opens the editor and returns the platform as it holds it. */
  async function openEditor(): Promise<PlatformView> {
    await button('Edit').click();
    return JSON.parse(await editorText().inputValue()) as PlatformView;
  }
  const fillEditor = (platform: PlatformView) =>
    editorText().fill(JSON.stringify(platform, null, 2));

  before(async () => {
    fake = await startFakePlatform({
      collections: { '/booth/all': boothSample(12) },
      requireHeaders: { authorization: `Bearer ${TOKEN}` },
    });
    system = await startSystem({ name: 'console-platform-admin', services: [] });
    // One after another: five processes booting at once on two busy cores can miss the deadline.
    for (const service of SERVICE_NAMES) await system.start(service);
    const created = await system.api<PlatformView>('/api/v1/platforms', {
      body: boothPlatform(fake.url, {
        auth: { type: 'bearer', token: TOKEN },
        schedule: { sync: { enabled: true, intervalSeconds: 3600 } },
      }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    ({ id: platformId, name } = created.body);
    const other = await system.api<PlatformView>('/api/v1/platforms', {
      body: boothPlatform(fake.url, { auth: { type: 'bearer', token: TOKEN } }),
    });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    otherName = other.body.name;

    browser = await launchChromium();
    admin = await browser.newContext();
    watch(admin);
    page = await admin.newPage();
    await signIn(page, system.gatewayUrl, system.adminKey);
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
    await fake?.stop();
  });

  it('when an admin renames the platform and changes its sync interval in the editor, then it is saved, the page shows the new version and schedule, and GET returns it', async () => {
    await page.goto(`${system.gatewayUrl}/ui/platforms/${platformId}`);
    await heading().filter({ hasText: name }).waitFor();
    await showsVersion(1);

    const loaded = await openEditor();
    assert.equal(loaded.version, 1);
    assert.deepEqual(loaded.auth, { type: 'bearer', token: '***' }, 'the credential masked');
    assert.ok(!(await editorText().inputValue()).includes(TOKEN), 'the token is never shown');
    assert.match((await editor().textContent()) ?? '', /left as \*\*\* keeps the stored/);

    const renamed = `${name}-renamed`;
    await fillEditor({
      ...loaded,
      name: renamed,
      schedule: { sync: { enabled: true, intervalSeconds: 7200 } },
    });
    await button('Save', editor()).click();

    await page.getByRole('status').filter({ hasText: 'version 2' }).waitFor();
    await heading().filter({ hasText: renamed }).waitFor();
    await showsVersion(2);
    assert.equal(await editor().count(), 0, 'the editor closed');
    await page
      .getByRole('region', { name: 'Schedule' })
      .getByText('7200 s')
      .waitFor({ timeout: 15_000 });
    const stored = await read();
    assert.equal(stored.version, 2);
    assert.equal(stored.name, renamed);
    assert.equal(stored.schedule?.sync?.intervalSeconds, 7200);
    name = renamed;
  });

  it('when the edit left the credential masked, then the stored token survives: a sync after it still sends the bearer token', async () => {
    fake.clearRequests();
    const once = await system.api<{ jobs: { status: string }[]; finished: boolean }>(
      `/api/v1/platforms/${platformId}/sync/once?wait=60`,
      { method: 'POST' },
    );
    assert.equal(once.status, 200, JSON.stringify(once.body));
    assert.deepEqual(
      once.body.jobs.map((j) => j.status),
      ['succeeded'],
      'the platform answers 401 without the token',
    );
    const sent = fake.requests.filter((r) => r.path === '/booth/all');
    assert.ok(sent.length >= 1, 'the sync asked the platform');
    assert.deepEqual(
      [...new Set(sent.map((r) => r.headers.authorization))],
      [`Bearer ${TOKEN}`],
      'every request carried the stored token',
    );
  });

  it('when someone changes the platform over the API between load and save, then the page reports the conflict and keeps the text, and after loading the current version the save works', async () => {
    const loaded = await openEditor();
    assert.equal(loaded.version, 2);
    const mine = { ...loaded, priority: 8 };
    await fillEditor(mine);
    const mineText = await editorText().inputValue();

    const elsewhereChange = await system.api<PlatformView>(`/api/v1/platforms/${platformId}`, {
      method: 'PATCH',
      headers: { 'If-Match': '"2"' },
      body: { description: 'changed over the API' },
    });
    assert.equal(elsewhereChange.status, 200, JSON.stringify(elsewhereChange.body));
    assert.equal(elsewhereChange.body.version, 3);

    await button('Save', editor()).click();
    const conflict = editor().getByRole('alert').filter({ hasText: 'Someone else changed' });
    await conflict.waitFor();
    assert.match(
      (await conflict.textContent()) ?? '',
      /loaded version 2 \(it is at version 3 now\)\. Nothing was saved/,
    );
    assert.equal(await editorText().inputValue(), mineText, 'the admin’s text is still there');
    const unchanged = await read();
    assert.equal(unchanged.version, 3);
    assert.equal(unchanged.priority, 5, 'nothing of the stale save was stored');

    await button('Load current version', editor()).click();
    await waitFor(
      async () => (JSON.parse(await editorText().inputValue()) as PlatformView).version === 3,
      { message: 'the editor holds version 3', timeoutMs: 10_000 },
    );
    const current = JSON.parse(await editorText().inputValue()) as PlatformView;
    assert.equal(current.description, 'changed over the API');
    assert.equal(current.priority, 5);
    const kept = editor().getByLabel('Your text, not saved');
    assert.equal(await kept.inputValue(), mineText, 'the admin’s text is kept beside it');
    assert.match(
      (await editor().locator('label').filter({ hasText: 'Your text, not saved' }).textContent()) ??
        '',
      /changed meanwhile: description/,
    );
    await showsVersion(3);

    await fillEditor({ ...current, priority: 8 });
    await button('Save', editor()).click();
    await page.getByRole('status').filter({ hasText: 'version 4' }).waitFor();
    await showsVersion(4);
    const stored = await read();
    assert.equal(stored.version, 4);
    assert.equal(stored.priority, 8);
    assert.equal(stored.description, 'changed over the API', 'the other change kept');
  });

  it('when the edit makes a resource invalid, then the page shows the API’s 422 message and details and nothing changes', async () => {
    const loaded = await openEditor();
    const [first, ...rest] = loaded.resources;
    assert.ok(first);
    const invalid = {
      ...loaded,
      resources: [{ ...first, request: { ...first.request, method: 'FETCH' } }, ...rest],
    };
    await fillEditor(invalid);
    await button('Save', editor()).click();

    const answer = await system.api<ErrorView>(`/api/v1/platforms/${platformId}`, {
      method: 'PUT',
      headers: { 'If-Match': '"4"' },
      body: invalid,
    });
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    const details = answer.body.error.details ?? [];
    assert.ok(
      details.some((d) => d.path === 'body.resources[0].request.method'),
      JSON.stringify(details),
    );
    const alert = editor().getByRole('alert');
    await alert.filter({ hasText: answer.body.error.message }).waitFor();
    const lines = await alert.locator('ul.details li').allTextContents();
    assert.deepEqual(
      lines,
      details.map((d) => `${d.path}: ${d.message}`),
    );
    assert.equal(
      (JSON.parse(await editorText().inputValue()) as PlatformView).resources[0]?.request.method,
      'FETCH',
      'the admin’s text stays to be mended',
    );
    const stored = await read();
    assert.equal(stored.version, 4);
    assert.notEqual(stored.resources[0]?.request.method, 'FETCH');
    await showsVersion(4);
    await button('Close editor').click();
    await editor().waitFor({ state: 'detached' });
  });

  it('when the admin deactivates the platform, then the page asks first, and once confirmed its schedules stop and GET shows active false; Activate turns it back on', async () => {
    const fires = async () =>
      (await system.api<SyncStatusView>(`/api/v1/platforms/${platformId}/sync/status`)).body
        .nextFireTimes.length;
    await waitFor(async () => (await fires()) > 0, { message: 'the platform is scheduled' });
    await heading().locator('.status', { hasText: 'running' }).waitFor();

    await button('Deactivate').click();
    const ask = page.getByRole('group', { name: `Deactivate ${name}?` });
    await ask.waitFor();
    assert.match((await ask.textContent()) ?? '', /Its schedules stop until it is activated again/);
    assert.equal((await read()).active, true, 'nothing happens before the confirmation');
    await button('Deactivate', ask).click();

    await heading().locator('.status', { hasText: 'inactive' }).waitFor();
    await button('Activate').waitFor();
    const stored = await read();
    assert.equal(stored.active, false);
    assert.equal(stored.version, 5);
    await waitFor(async () => (await fires()) === 0, {
      message: 'no fire times once inactive',
      timeoutMs: 15_000,
    });

    await button('Activate').click();
    await button('Deactivate').waitFor();
    assert.equal(await page.getByRole('group', { name: /^Activate/ }).count(), 0, 'no question');
    const again = await read();
    assert.equal(again.active, true);
    assert.equal(again.version, 6);
    await waitFor(async () => (await fires()) > 0, {
      message: 'scheduled again once active',
      timeoutMs: 15_000,
    });
  });

  it('when an operator opens the platform page, then none of the admin controls is offered', async () => {
    const created = await system.api<{ key: string }>('/api/v1/api-keys', {
      body: { name: `ops-${randomBytes(3).toString('hex')}`, role: 'operator' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const context = await browser.newContext();
    watch(context);
    const p = await context.newPage();
    try {
      await signIn(p, system.gatewayUrl, created.body.key);
      assert.equal(await p.locator('header .who').textContent(), 'operator');
      await p.goto(`${system.gatewayUrl}/ui/platforms/${platformId}`);
      await p.getByRole('heading', { level: 1, name }).waitFor();
      // The operator's own controls are there: the page has rendered what the role may do.
      await button('Sync once', p).waitFor();
      const buttons = (await p.getByRole('button').allTextContents()).map((t) => t.trim());
      assert.deepEqual(
        buttons.filter((b) => ADMIN_BUTTONS.includes(b)),
        [],
        `offered: ${buttons.join(', ')}`,
      );
      assert.equal(await p.getByRole('form', { name: 'Edit platform' }).count(), 0);
      assert.equal(await p.getByRole('textbox', { name: /Platform \(JSON\)/ }).count(), 0);
    } finally {
      await context.close();
    }
  });

  it('when the admin retires the platform, then the page asks first, saying what happens, and once confirmed lands on the Platforms list without it, and GET answers 404', async () => {
    await page.goto(`${system.gatewayUrl}/ui/platforms/${platformId}`);
    await heading().filter({ hasText: name }).waitFor();
    await button('Retire').click();
    const ask = page.getByRole('group', { name: `Retire ${name}?` });
    await ask.waitFor();
    const question = (await ask.textContent()) ?? '';
    assert.match(question, /schedules stop/);
    assert.match(question, /queued jobs are cancelled/);
    assert.match(question, /cannot be undone/);
    await button('Cancel', ask).click();
    await ask.waitFor({ state: 'detached' });
    assert.equal((await read()).version, 6, 'Cancel retires nothing');

    await button('Retire').click();
    await button('Retire', ask).click();
    // The list is told which platform was retired, by name (its `retired` query).
    await page.waitForURL(
      (url) => url.pathname === '/ui/platforms' && url.searchParams.get('retired') === name,
    );
    await page.getByRole('heading', { level: 1, name: 'Platforms' }).waitFor();
    const list = page.getByRole('table', { name: 'Platforms' });
    await list.getByRole('link', { name: otherName, exact: true }).waitFor();
    assert.equal(await list.getByRole('link', { name, exact: true }).count(), 0, 'not listed');
    await page
      .getByRole('status')
      .filter({ hasText: `${name} was retired: its schedules stopped` })
      .waitFor();
    const gone = await system.api<ErrorView>(`/api/v1/platforms/${platformId}`);
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
  });

  it('when an admin registers a platform with “Sync every”, then it is scheduled at that interval (sync is off by default)', async () => {
    const definition = boothPlatform(fake.url);
    await page.goto(`${system.gatewayUrl}/ui/platforms`);
    await page.getByRole('button', { name: 'Register a platform' }).click();
    const form = page.getByRole('form', { name: 'Register a platform' });
    await form.getByLabel('Name', { exact: true }).fill(definition.name);
    await form.getByLabel('Base URL').fill(fake.url);
    await form.getByLabel('Resources (JSON)').fill(JSON.stringify(definition.resources));
    await form.getByLabel(/^Sync every/).fill('3600');
    await form.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: definition.name }).waitFor();
    const id = page.url().split('/').at(-1) ?? '';
    const status = await system.api<{
      isRunning: boolean;
      syncInterval: number | null;
      nextFireTimes: string[];
    }>(`/api/v1/platforms/${id}/sync/status`);
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.deepEqual(
      [status.body.isRunning, status.body.syncInterval, status.body.nextFireTimes.length],
      [true, 3600, 5],
    );
  });

  it('then no page sent a request anywhere but the gateway, and none logged an error', () => {
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(problems, []);
  });
});
