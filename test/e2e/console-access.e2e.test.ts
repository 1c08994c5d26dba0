import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { waitFor } from '@psc/testing';
import { consoleWatch, hrefs, launchChromium, rowData, signIn } from '../support/browser.ts';
import { boothPlatform } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

interface Me {
  keyId: string;
  role: string;
}
interface NewKey {
  id: string;
  name: string;
  key: string;
}

const suffix = randomBytes(3).toString('hex');
/** Nothing listens there: the platform and the webhook are only targets of audit entries. */
const NOWHERE = 'http://127.0.0.1:9';
const BOOTSTRAP_NAME = 'bootstrap admin (PSC_ADMIN_API_KEY)';

describe('console Access page (API keys and audit trail) in headless Chromium', () => {
  let system: System;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let adminKeyId = '';
  let platformId = '';
  let platformName = '';
  let operator: NewKey;
  let viewer: NewKey;
  /** The key the admin creates in the form, then revokes. */
  const formKey = { id: '', name: `ci-dashboard-${suffix}`, key: '' };
  const reason = `upstream migration ${suffix}`;
  /** The audit trail's actions, newest first, once the pause is in. */
  const trail = [
    'scheduler.pause',
    'api-key.revoked',
    'api-key.created',
    'api-key.created',
    'api-key.created',
    'webhook.created',
    'platform.created',
  ];
  const { elsewhere, problems, watch } = consoleWatch(
    () => system.gatewayUrl,
    // The 401 a revoked key gets is an answer the console acts on (it signs out).
    (text) => /status of 401/.test(text),
  );

  const createKey = async (name: string, role: string): Promise<NewKey> => {
    const created = await system.api<NewKey>('/api/v1/api-keys', { body: { name, role } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  };
  const statusOf = async (apiKey: string) => (await system.api('/api/v1/me', { apiKey })).status;
  /** Runs in the page; a string, as this file is typed for Node, not the DOM. */
  const inPage = <T>(p: Page, script: string) => p.evaluate<T>(script);

  const keysTable = () => page.getByRole('table', { name: 'API keys' });
  const auditRows = () => page.getByRole('table', { name: 'Audit entries' }).locator('tbody tr');
  /** Waits until the trail's rows are `actions`, in this order. */
  const trailShows = (actions: string[], message: string) =>
    waitFor(
      async () => JSON.stringify(await rowData(auditRows(), 'action')) === JSON.stringify(actions),
      { timeoutMs: 10_000, message },
    );

  before(async () => {
    system = await startSystem({ name: 'console-access', services: [] });
    // All five, as the overview and a platform's page read from each; one after another, as
    // five processes booting at once on a busy two-core machine can miss their deadline.
    for (const name of SERVICE_NAMES) await system.start(name);
    adminKeyId = (await system.api<Me>('/api/v1/me')).body.keyId;
    const platform = await system.api<{ id: string; name: string }>('/api/v1/platforms', {
      body: boothPlatform(NOWHERE),
    });
    assert.equal(platform.status, 201, JSON.stringify(platform.body));
    ({ id: platformId, name: platformName } = platform.body);
    const hook = await system.api('/api/v1/webhooks', {
      body: { url: `${NOWHERE}/hook`, events: ['job.failed'] },
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    // Reading the trail writes what the gateway gathered behind those answers, so the key
    // changes below (written with the change) come after them.
    assert.equal((await system.api('/api/v1/audit')).status, 200);
    operator = await createKey(`ops-${suffix}`, 'operator');
    viewer = await createKey(`wallboard-${suffix}`, 'viewer');

    browser = await launchChromium();
    admin = await browser.newContext();
    watch(admin);
    page = await admin.newPage();
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  it('when an admin creates an operator key in the form, then the key is shown once, answers the API as an operator, is listed by name, role and prefix, and is gone after a reload', async () => {
    await signIn(page, system.gatewayUrl, system.adminKey);
    await page.locator('header').getByRole('link', { name: 'Access' }).click();
    const self = keysTable().locator('tr[data-self="true"]');
    await self.waitFor();
    assert.equal(await self.getAttribute('data-id'), adminKeyId);
    assert.match((await self.textContent()) ?? '', /\(you\)/);

    await page.getByRole('button', { name: 'New key' }).click();
    const form = page.getByRole('form', { name: 'New API key' });
    await form.getByLabel('Name').fill(formKey.name);
    await form.getByLabel('Role').selectOption('operator');
    await form.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByRole('region', { name: 'New key' });
    await shown.waitFor();
    assert.match((await shown.textContent()) ?? '', /cannot be shown again/);
    formKey.key = await shown.getByLabel('Key').inputValue();
    assert.match(formKey.key, /^psc_/);

    const me = await system.api<Me>('/api/v1/me', { apiKey: formKey.key });
    assert.equal(me.status, 200);
    assert.equal(me.body.role, 'operator');
    formKey.id = me.body.keyId;
    const row = keysTable().locator(`tr[data-id="${formKey.id}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 3), [formKey.name, 'operator', formKey.key.slice(0, 10)]);
    assert.equal(cells[4], BOOTSTRAP_NAME, 'created by');

    assert.ok(!page.url().includes(formKey.key), 'the key is not in the URL');
    assert.deepEqual(
      await inPage(page, 'JSON.stringify([Object.entries(sessionStorage), localStorage.length])'),
      JSON.stringify([[['psc.apiKey', system.adminKey]], 0]),
      'the new key is in no storage',
    );

    // The call above used the key; the gateway notes that behind its answer.
    await waitFor(
      async () => {
        await page.reload();
        const lastUsed = keysTable().locator(`tr[data-id="${formKey.id}"] td`).nth(5);
        return /ago$/.test((await lastUsed.textContent()) ?? '');
      },
      { timeoutMs: 10_000, message: 'the new key listed as used' },
    );
    assert.equal(await page.getByRole('region', { name: 'New key' }).count(), 0);
    const values = await inPage<string[]>(
      page,
      `[...document.querySelectorAll('input')].map((i) => i.value)`,
    );
    assert.ok(!values.includes(formKey.key), 'no field holds the key after a reload');
    assert.ok(!(await page.content()).includes(formKey.key), 'the page does not hold the key');
  });

  it('when the admin revokes that key, then Cancel keeps it, and once confirmed the API refuses it within a second', async () => {
    const row = keysTable().locator(`tr[data-id="${formKey.id}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    const ask = row.getByRole('group');
    assert.match(
      (await ask.textContent()) ?? '',
      new RegExp(`Revoke “${formKey.name}”\\? Everything using it is refused within a second`),
    );
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('button', { name: 'Revoke' }).waitFor();
    assert.equal(await statusOf(formKey.key), 200, 'Cancel keeps the key');

    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('group').getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    await page
      .getByRole('status')
      .filter({ hasText: `Revoked “${formKey.name}”` })
      .waitFor();
    await waitFor(async () => (await statusOf(formKey.key)) === 401, {
      timeoutMs: 1_500,
      message: 'the revoked key refused',
    });
  });

  it('when an operator pauses the scheduler with a reason, then the audit trail lists it above the revocation and the creation, newest first, with the reason, the actors by name and the targets linked', async () => {
    const paused = await system.api('/api/v1/scheduler/pause', {
      apiKey: operator.key,
      body: { reason },
    });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));

    const pause = page.locator('tr[data-action="scheduler.pause"]');
    await pause.waitFor();
    assert.deepEqual(await rowData(auditRows(), 'action'), trail);
    assert.deepEqual(await rowData(auditRows(), 'target'), [
      'scheduler',
      formKey.id,
      formKey.id,
      viewer.id,
      operator.id,
      (await rowData(page.locator('tr[data-action="webhook.created"]'), 'target'))[0],
      platformId,
    ]);

    const cellsOf = (row: Locator) => row.locator('td').allTextContents();
    const [, , pauseTarget, pauseBy, pauseDetails] = await cellsOf(pause);
    assert.equal(pauseTarget, 'scheduler scheduler · history');
    assert.equal(pauseBy, operator.name, 'the actor by its key’s name');
    assert.equal(pauseDetails, `“${reason}”`);
    const [, , revokedTarget, revokedBy] = await cellsOf(auditRows().nth(1));
    assert.match(revokedTarget ?? '', new RegExp(`^api-key ${formKey.name}`));
    assert.equal(revokedBy, `${BOOTSTRAP_NAME} (you)`);

    const links = (action: string) =>
      hrefs(page.locator(`tr[data-action="${action}"] td:nth-child(3) a`));
    assert.deepEqual(await links('scheduler.pause'), [
      '/ui/scheduler',
      '/ui/access?targetId=scheduler',
    ]);
    assert.equal((await links('webhook.created'))[0], '/ui/webhooks');
    assert.equal((await links('platform.created'))[0], `/ui/platforms/${platformId}`);

    await page
      .locator('tr[data-action="platform.created"]')
      .getByRole('link', { name: platformName })
      .click();
    await page.getByRole('heading', { name: platformName }).waitFor();
    await page.goBack();
    await pause.waitFor();
  });

  it('when the trail is filtered by a target, then only its entries show, the filter stays in the URL across a reload, and Older and Newer page through a long trail', async () => {
    const form = page.getByRole('form', { name: 'Audit filters' });
    await form.getByLabel('Target id').fill(platformId);
    await form.getByRole('button', { name: 'Filter', exact: true }).click();
    await trailShows(['platform.created'], 'the platform’s entries only');
    assert.equal(new URL(page.url()).searchParams.get('targetId'), platformId);

    await page.reload();
    await page.locator('tr[data-action="platform.created"]').waitFor();
    assert.deepEqual(await rowData(auditRows(), 'action'), ['platform.created']);
    assert.equal(await form.getByLabel('Target id').inputValue(), platformId);

    await form.getByRole('button', { name: 'Clear filters' }).click();
    await trailShows(trail, 'the whole trail again');
    assert.equal(new URL(page.url()).search, '');

    // A key's "history" link: its creation and revocation, nothing else.
    await page
      .locator('tr[data-action="api-key.revoked"]')
      .getByRole('link', { name: 'history' })
      .click();
    await trailShows(['api-key.revoked', 'api-key.created'], 'the key’s entries only');
    assert.equal(new URL(page.url()).searchParams.get('targetId'), formKey.id);
    await form.getByRole('button', { name: 'Clear filters' }).click();

    // By what was done (an action's first part) and by whom, as the API narrows them.
    await form.getByLabel('Action').fill('api-key');
    await form.getByRole('button', { name: 'Filter', exact: true }).click();
    await trailShows(
      trail.filter((a) => a.startsWith('api-key.')),
      'the key actions only',
    );
    await form.getByLabel('Action').fill('');
    await form.getByLabel('By key').selectOption({ label: operator.name });
    await form.getByRole('button', { name: 'Filter', exact: true }).click();
    await trailShows(['scheduler.pause'], 'what the operator did');
    assert.equal(new URL(page.url()).searchParams.get('actorKeyId'), operator.id);
    await page.reload();
    await page.locator('tr[data-action="scheduler.pause"]').waitFor();
    assert.equal(await form.getByLabel('By key').inputValue(), operator.id);
    await form.getByRole('button', { name: 'Clear filters' }).click();

    // 50 more entries fill the newest page; the seven above move to the next.
    for (const action of Array.from({ length: 25 }, () => ['resume', 'pause'] as const).flat()) {
      const answer = await system.api(`/api/v1/scheduler/${action}`, { body: {} });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    const pager = page.locator('.pager');
    await waitFor(
      async () =>
        (await rowData(auditRows(), 'id')).length === 50 &&
        (await auditRows().first().getAttribute('data-action')) === 'scheduler.pause' &&
        !(await rowData(auditRows(), 'action')).includes('platform.created'),
      { timeoutMs: 10_000, message: 'the newest page holds the 50 scheduler entries' },
    );
    assert.equal(await pager.getByRole('button', { name: 'Newer' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Older' }).click();
    await page.locator('tr[data-action="platform.created"]').waitFor();
    assert.deepEqual(await rowData(auditRows(), 'action'), trail);
    assert.equal(await pager.getByRole('button', { name: 'Older' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Newer' }).click();
    await page.locator('tr[data-action="platform.created"]').waitFor({ state: 'detached' });
    assert.equal((await rowData(auditRows(), 'id')).length, 50);
  });

  it('when an operator or a viewer signs in, then the header offers no Access link and /ui/access says the page is for admins, without asking the API', async () => {
    for (const [role, key] of [
      ['operator', operator.key],
      ['viewer', viewer.key],
    ] as const) {
      const context = await browser.newContext();
      watch(context);
      const p = await context.newPage();
      const refused: string[] = [];
      const asked: string[] = [];
      p.on('response', (r) => {
        if (r.status() === 403) refused.push(r.url());
        if (/\/api\/v1\/(api-keys|audit)/.test(r.url())) asked.push(r.url());
      });
      try {
        await signIn(p, system.gatewayUrl, key);
        assert.equal(await p.locator('header .who').textContent(), role);
        assert.equal(await p.locator('header').getByRole('link', { name: 'Access' }).count(), 0);
        await p.goto(`${system.gatewayUrl}/ui/access`);
        const note = p.getByRole('region', { name: 'Admins only' });
        await note.waitFor();
        assert.match(
          (await note.textContent()) ?? '',
          new RegExp(`This page is for admins\\..*signed in with an? ${role} key`),
        );
        assert.equal(await p.getByRole('alert').count(), 0, `${role}: no error shown`);
        assert.equal(await p.getByRole('table').count(), 0, `${role}: no keys, no trail`);
        assert.deepEqual(asked, [], `${role}: the page asked for keys or the trail`);
        assert.deepEqual(refused, [], `${role}: the API refused`);
      } finally {
        await context.close();
      }
    }
  });

  it('when an admin revokes a key of their own, then the question says so (and when it is the last admin key), and confirming signs that console out', async () => {
    // The bootstrap key is the only admin key: asked, and cancelled.
    await page.goto(`${system.gatewayUrl}/ui/access`);
    const own = keysTable().locator('tr[data-self="true"]');
    await own.getByRole('button', { name: 'Revoke' }).click();
    const lastAsk = (await own.getByRole('group').textContent()) ?? '';
    assert.match(lastAsk, /Revoke your own key\? The console signs you out at its next request/);
    assert.match(lastAsk, /It is the last admin key/);
    await own.getByRole('group').getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await statusOf(system.adminKey), 200);

    const second = await createKey(`second-admin-${suffix}`, 'admin');
    const context = await browser.newContext();
    watch(context);
    const p = await context.newPage();
    try {
      await signIn(p, system.gatewayUrl, second.key);
      await p.locator('header').getByRole('link', { name: 'Access' }).click();
      const row = p.getByRole('table', { name: 'API keys' }).locator('tr[data-self="true"]');
      await row.waitFor();
      assert.equal(await row.getAttribute('data-id'), second.id);
      await row.getByRole('button', { name: 'Revoke' }).click();
      const ask = (await row.getByRole('group').textContent()) ?? '';
      assert.match(ask, /Revoke your own key\? The console signs you out/);
      assert.doesNotMatch(ask, /last admin key/, 'the bootstrap key is another admin key');
      await row.getByRole('group').getByRole('button', { name: 'Revoke' }).click();
      await p.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
      assert.equal(await inPage(p, `sessionStorage.length`), 0, 'the key is forgotten');
      assert.equal(await statusOf(second.key), 401);
    } finally {
      await context.close();
    }
  });

  it('then no page sent a request anywhere but the gateway, and none logged an error', () => {
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(problems, []);
  });
});
