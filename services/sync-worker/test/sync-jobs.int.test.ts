import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordsList, validationGet } from '@psc/contracts';
import { boothSample, startFakePlatform, type Item } from '@psc/testing';
import { startHarness } from './support/harness.ts';

const items = (n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ id: `item-${String(i + 1).padStart(3, '0')}`, n: i + 1 }));

const simpleResource = (
  pagination: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({
  name: 'items',
  request: { path: '/items' },
  pagination,
  itemsPath: 'data',
  key: 'id',
  mapping: { id: 'id', double: 'n * 2' },
  ...extra,
});

/** The seed 004 mapping table: booth, its details and its menus, with derived and constant fields. */
const boothResource = {
  name: 'booths',
  request: { path: '/booth/all' },
  pagination: { type: 'page', pageSize: 2 },
  itemsPath: 'data',
  key: 'boothName',
  mapping: { name: 'boothName', category: "'BOOTH'", isDorder: 'true', price: '0' },
  changeEvents: true,
  children: [
    {
      name: 'details',
      itemsPath: '$',
      key: 'boothName',
      mapping: {
        allTable: 'boothAllTable',
        usageTable: 'boothUsageTable',
        canUsage: 'boothUsageTable < boothAllTable',
      },
    },
    {
      name: 'menus',
      itemsPath: 'menus',
      key: 'menuName',
      mapping: {
        name: 'menuName',
        ingredient: 'menuIngredidentReminder',
        sold: 'menuSalesQuantity',
        price: '0',
      },
    },
  ],
};

describe('sync-worker.jobs: sync and validate', { timeout: 60_000 }, () => {
  it('when a resource uses each pagination style, then every item lands once as a mapped record, with no change events unless asked for', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    const styles: [string, Record<string, unknown>, Record<string, unknown>?][] = [
      ['none', { type: 'none' }],
      ['page', { type: 'page', pageSize: 5 }],
      ['offset', { type: 'offset', limit: 5 }],
      ['cursor', { type: 'cursor', nextPath: 'next', limitParam: 'limit', limit: 5 }],
      ['link', { type: 'link', sizeParam: 'size', pageSize: 5 }, { query: { paging: 'link' } }],
      ['page+total', { type: 'page', pageSize: 5, totalPath: 'total' }],
    ];
    fake.setCollection('/items', items(23));
    for (const [label, pagination, request] of styles) {
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [
          simpleResource(pagination, request ? { request: { path: '/items', ...request } } : {}),
        ],
      });
      fake.clearRequests();
      const done = await h.finished(await h.runJob(platform, 'items'));
      assert.deepEqual(
        done.stats,
        { fetched: 23, inserted: 23, updated: 0, unchanged: 0, deleted: 0 },
        label,
      );
      const expectedRequests = { none: 1, page: 5, offset: 5, cursor: 5, link: 5, 'page+total': 5 };
      assert.equal(
        fake.requests.length,
        expectedRequests[label as keyof typeof expectedRequests],
        label,
      );
      const page = await h.rpc.call(recordsList, {
        platformId: platform.id,
        resource: 'items',
        limit: 50,
      });
      assert.equal(page.items.length, 23, label);
      assert.deepEqual(page.items[4]?.data, { id: 'item-005', double: 10 }, label);
    }
    // Change events are opt-in per resource (`changeEvents`): none were asked for here.
    assert.deepEqual(h.eventsOf('records.changed'), []);
  });

  it('when a later page fails while the pages before it are being stored, then the job stores nothing; its next run asks for each page once and stores every item once', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    const all = items(17);
    let failPage: string | null = '3';
    // Pages of 5: the worker asks for page n+1 while it stores page n.
    fake.route('GET', '/paged', (request) => {
      const page = request.query.page ?? '1';
      if (page === failPage) return { status: 404, body: { error: 'gone' } };
      const start = (Number(page) - 1) * 5;
      return { body: { data: all.slice(start, start + 5) } };
    });
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [
        { ...simpleResource({ type: 'page', pageSize: 5 }), request: { path: '/paged' } },
      ],
    });

    const failed = await h.finished(await h.runJob(platform, 'items'));
    assert.equal(failed.outcome, 'failed');
    const none = await h.rpc.call(recordsList, {
      platformId: platform.id,
      resource: 'items',
      limit: 50,
    });
    assert.deepEqual(none.items, [], 'pages 1 and 2 rolled back with the job');

    failPage = null;
    fake.clearRequests();
    const done = await h.finished(await h.runJob(platform, 'items'));
    assert.deepEqual(done.stats, {
      fetched: 17,
      inserted: 17,
      updated: 0,
      unchanged: 0,
      deleted: 0,
    });
    assert.deepEqual(
      fake.requests.map((r) => r.query.page),
      ['1', '2', '3', '4'],
    );
    const stored = await h.rpc.call(recordsList, {
      platformId: platform.id,
      resource: 'items',
      limit: 50,
    });
    assert.deepEqual(
      stored.items.map((r) => r.key),
      all.map((i) => i.id),
    );
  });

  it('when seed 004 booths sync, then booths, details and menus are stored with derived and constant fields', async (t) => {
    const h = await startHarness(t);
    const booths = boothSample(5);
    const fake = await startFakePlatform({ collections: { '/booth/all': booths } });
    t.after(() => fake.stop());
    const platform = h.addPlatform({ baseUrl: fake.url, resources: [boothResource] });

    const done = await h.finished(await h.runJob(platform, 'booths'));

    const menuCount = booths.reduce((n, b) => n + b.menus.length, 0);
    assert.deepEqual(done.stats, {
      fetched: 5,
      inserted: 5,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      children: {
        details: { fetched: 5, inserted: 5, updated: 0, unchanged: 0, deleted: 0 },
        menus: { fetched: menuCount, inserted: menuCount, updated: 0, unchanged: 0, deleted: 0 },
      },
    });
    const list = (resource: string, extra: Record<string, unknown> = {}) =>
      h.rpc.call(recordsList, { platformId: platform.id, resource, limit: 100, ...extra });
    const booth1 = (await list('booths', { filters: { name: 'Booth 1' } })).items;
    assert.deepEqual(
      booth1.map((r) => r.data),
      [{ name: 'Booth 1', category: 'BOOTH', isDorder: true, price: 0 }],
    );
    const details = (await list('booths.details', { parentKey: 'Booth 2' })).items;
    const b2 = booths[1]!;
    assert.deepEqual(details[0]?.data, {
      allTable: b2.boothAllTable,
      usageTable: b2.boothUsageTable,
      canUsage: b2.boothUsageTable < b2.boothAllTable,
    });
    const menus = (await list('booths.menus', { parentKey: 'Booth 3' })).items;
    assert.deepEqual(
      menus.map((m) => m.data).sort((a, b) => String(a.name).localeCompare(String(b.name))),
      booths[2]!.menus
        .map((m) => ({
          name: m.menuName,
          ingredient: m.menuIngredidentReminder,
          sold: m.menuSalesQuantity,
          price: 0,
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
    assert.ok(menus.every((m) => m.parentKey === 'Booth 3'));
    const changed = h.eventsOf('records.changed', done.jobId as string);
    assert.ok(changed.some((e) => e.resource === 'booths.menus'));
  });

  it('when 1 of 5 items changed and another vanished, then a re-sync updates 1, keeps the rest, soft-deletes the vanished one', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    fake.setCollection('/items', items(6));
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [simpleResource({ type: 'page', pageSize: 2 }, { changeEvents: true })],
    });
    await h.finished(await h.runJob(platform, 'items'));
    fake.removeItem('/items', (i) => i.id === 'item-006');
    fake.updateItem('/items', (i) => i.id === 'item-002', { n: 200 });

    const jobId = await h.runJob(platform, 'items');
    const done = await h.finished(jobId);

    assert.deepEqual(done.stats, { fetched: 5, inserted: 0, updated: 1, unchanged: 4, deleted: 1 });
    const all = await h.rpc.call(recordsList, {
      platformId: platform.id,
      resource: 'items',
      limit: 50,
      includeDeleted: true,
    });
    const gone = all.items.filter((r) => r.deletedAt);
    assert.deepEqual(
      gone.map((r) => r.key),
      ['item-006'],
    );
    const live = await h.rpc.call(recordsList, {
      platformId: platform.id,
      resource: 'items',
      limit: 50,
    });
    assert.equal(live.items.length, 5);
    const kinds = h
      .eventsOf('records.changed', jobId)
      .flatMap((e) => e.changes as { key: string; kind: string }[]);
    assert.deepEqual(
      kinds.sort((a, b) => a.key.localeCompare(b.key)),
      [
        { key: 'item-002', kind: 'updated' },
        { key: 'item-006', kind: 'deleted' },
      ],
    );
  });

  it('when items come and go across one-page syncs, then each sync soft-deletes exactly the ones the platform no longer has, and one that returns is live again', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [simpleResource({ type: 'page', pageSize: 10 })],
    });
    const all = items(4);
    const sync = async (keep: number[]) => {
      fake.setCollection(
        '/items',
        keep.map((n) => all[n - 1]!),
      );
      const done = await h.finished(await h.runJob(platform, 'items'));
      const listed = await h.rpc.call(recordsList, {
        platformId: platform.id,
        resource: 'items',
        limit: 50,
        includeDeleted: true,
      });
      const keys = (deleted: boolean) =>
        listed.items
          .filter((r) => Boolean(r.deletedAt) === deleted)
          .map((r) => r.key)
          .sort();
      return { stats: done.stats, live: keys(false), deleted: keys(true) };
    };
    const stats = (inserted: number, updated: number, unchanged: number, deleted: number) => ({
      fetched: inserted + updated + unchanged,
      inserted,
      updated,
      unchanged,
      deleted,
    });

    assert.deepEqual(await sync([1, 2, 3]), {
      stats: stats(3, 0, 0, 0),
      live: ['item-001', 'item-002', 'item-003'],
      deleted: [],
    });
    // As many live records as before, but one is new and one has gone.
    assert.deepEqual(await sync([1, 2, 4]), {
      stats: stats(1, 0, 2, 1),
      live: ['item-001', 'item-002', 'item-004'],
      deleted: ['item-003'],
    });
    // One returns as another goes: as many live records as before again.
    assert.deepEqual(await sync([2, 3, 4]), {
      stats: stats(0, 1, 2, 1),
      live: ['item-002', 'item-003', 'item-004'],
      deleted: ['item-001'],
    });
    assert.deepEqual(await sync([1, 2, 3, 4]), {
      stats: stats(0, 1, 3, 0),
      live: ['item-001', 'item-002', 'item-003', 'item-004'],
      deleted: [],
    });
    assert.deepEqual(await sync([1, 2, 3, 4]), {
      stats: stats(0, 0, 4, 0),
      live: ['item-001', 'item-002', 'item-003', 'item-004'],
      deleted: [],
    });
    assert.deepEqual(await sync([2, 3, 4]), {
      stats: stats(0, 0, 3, 1),
      live: ['item-002', 'item-003', 'item-004'],
      deleted: ['item-001'],
    });
  });

  it('when the platform changed one field of one item after a sync, then validate reports exactly that change and stores nothing', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    fake.setCollection('/items', items(5));
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [simpleResource({ type: 'page', pageSize: 2 }, { tasks: ['sync', 'validate'] })],
    });
    await h.finished(await h.runJob(platform, 'items'));
    fake.updateItem('/items', (i) => i.id === 'item-003', { n: 30 });

    const jobId = await h.runJob(platform, 'items', { taskType: 'validate' });
    await h.finished(jobId);

    const report = await h.rpc.call(validationGet, { jobId });
    assert.equal(report.drift, true);
    assert.deepEqual(report.counts, { fetched: 5, missing: 0, extra: 0, changed: 1 });
    assert.deepEqual(report.changed, [
      { key: 'item-003', fields: [{ field: 'double', old: 6, new: 60 }] },
    ]);
    const drift = h.eventsOf('validation.drift_detected', jobId);
    assert.equal(drift.length, 1);
    const stored = await h.rpc.call(recordsList, {
      platformId: platform.id,
      resource: 'items',
      limit: 50,
      filters: { id: 'item-003' },
    });
    assert.deepEqual(stored.items[0]?.data, { id: 'item-003', double: 6 });
  });
});
