import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { MAX_STORED_DEPTH } from '@psc/platform-http';
import { startFakePlatform, type FakePlatform } from '@psc/testing';
import { itemsResource, startHarness, type Harness } from './support/harness.ts';

/** A platform whose answers are raw text, for bodies JSON.stringify cannot write. */
async function rawPlatform(t: TestContext, bodies: Record<string, string>): Promise<string> {
  const server = createServer((req, res) => {
    const body = bodies[new URL(req.url ?? '/', 'http://x').pathname];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(body ?? '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** How a job ended, in one comparable line: outcome, attempt, class, message. */
async function ending(h: Harness, jobId: string) {
  const done = await h.finished(jobId);
  const error = done.error as { class?: string; message?: string } | undefined;
  return [done.outcome, done.attempt, error?.class, error?.message];
}

/** Another platform's resource syncs whole: the worker goes on with other work. */
async function otherPlatformSyncs(h: Harness, t: TestContext): Promise<void> {
  const fake: FakePlatform = await startFakePlatform({
    collections: { '/items': [{ id: 'a' }, { id: 'b' }] },
  });
  t.after(() => fake.stop());
  const platform = h.addPlatform({ baseUrl: fake.url, resources: [itemsResource('items')] });
  const done = await h.finished(await h.runJob(platform, 'items'));
  assert.equal(done.error, undefined, JSON.stringify(done.error));
  assert.equal((done.stats as { inserted: number }).inserted, 2);
}

describe('sync-worker.jobs: a hostile platform', { timeout: 60_000 }, () => {
  it("when a platform's cursor or next link leads back to a page it gave before, then the sync fails at once with pagination_loop after a few requests, not maxPages of them, and another platform syncs", async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    // Two pages that point at each other, by cursor and by Link header.
    fake.route('GET', '/cursored', (req) => ({
      body: { data: [{ id: `c-${req.query.cursor ?? '0'}` }], next: req.query.cursor ? '' : 'B' },
    }));
    fake.route('GET', '/cursored-loop', (req) => ({
      body: { data: [{ id: 'x' }], next: req.query.cursor === 'B' ? 'A' : 'B' },
    }));
    fake.route('GET', '/linked', (req) => ({
      body: { data: [{ id: 'l' }] },
      headers: { link: `</linked?p=${req.query.p === '2' ? '1' : '2'}>; rel="next"` },
    }));
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [
        { ...itemsResource('ends'), request: { path: '/cursored' } },
        { ...itemsResource('cursors'), request: { path: '/cursored-loop' } },
        { ...itemsResource('links'), request: { path: '/linked' }, pagination: { type: 'link' } },
      ].map((r) =>
        r.name === 'links' ? r : { ...r, pagination: { type: 'cursor', nextPath: 'next' } },
      ),
    });

    // A cursor seen once is no loop: two pages, then the end.
    const ends = await h.finished(await h.runJob(platform, 'ends'));
    assert.equal((ends.stats as { inserted: number }).inserted, 2);
    assert.deepEqual(await ending(h, await h.runJob(platform, 'cursors')), [
      'failed',
      1,
      'pagination_loop',
      "page 3 gave the cursor that led to page 2 again: the platform's pages loop",
    ]);
    assert.deepEqual(await ending(h, await h.runJob(platform, 'links')), [
      'failed',
      1,
      'pagination_loop',
      "page 3 gave the next link that led to page 2 again: the platform's pages loop",
    ]);
    // First, B, A (which hands out B again); first, ?p=2, ?p=1 (?p=2 again): not 1,000 of each.
    assert.equal(fake.requests.filter((r) => r.path === '/cursored-loop').length, 3);
    assert.equal(fake.requests.filter((r) => r.path === '/linked').length, 3);
    await otherPlatformSyncs(h, t);
  });

  it('when records hold a lone UTF-16 surrogate (a value, a nested key, the key), nest past the depth bound (even a million levels) or a number beyond a double (1e400), then each sync fails on its first attempt with unstorable_data naming the field, and another platform syncs', async (t) => {
    const h = await startHarness(t);
    const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    // JSON escapes as a platform sends them: each parses to a string PostgreSQL's jsonb refuses.
    const url = await rawPlatform(t, {
      '/value': '{"data":[{"id":"v1","name":"caf\\ud800"}]}',
      '/nested-key': '{"data":[{"id":"n1","name":{"ok":1,"k\\udfff":2}}]}',
      '/key': '{"data":[{"id":"k\\ud83d","name":"x"}]}',
      '/deep': `{"data":[{"id":"d1","name":${deep(MAX_STORED_DEPTH + 5)}}]}`,
      '/deepest': `{"data":[{"id":"d2","name":${deep(1_000_000)}}]}`,
      '/huge': '{"data":[{"id":"h1","name":{"n":-1e400}}]}',
    });
    const resource = (name: string) => ({
      ...itemsResource(name),
      request: { path: `/${name}` },
      mapping: { id: 'id', name: 'name' },
    });
    const platform = h.addPlatform({
      baseUrl: url,
      resources: ['value', 'nested-key', 'key', 'deep', 'deepest', 'huge'].map(resource),
    });
    const lone = (code: string) =>
      `holds a lone UTF-16 surrogate (U+${code}), which PostgreSQL cannot store`;
    const tooDeep = `nests deeper than ${MAX_STORED_DEPTH} levels, more than psc stores`;
    const expected: Record<string, string> = {
      value: `mapping.name: ${lone('D800')}`,
      'nested-key': `mapping.name: ${lone('DFFF')}`,
      key: `key: ${lone('D83D')}`,
      deep: `mapping.name[0][0]: ${tooDeep}`,
      deepest: `mapping.name[0][0]: ${tooDeep}`,
      huge: 'mapping.name.n: holds a number beyond the range of a double (such as 1e400), stored as null',
    };
    for (const [name, message] of Object.entries(expected)) {
      assert.deepEqual(
        await ending(h, await h.runJob(platform, name)),
        ['failed', 1, 'unstorable_data', message],
        name,
      );
    }
    await otherPlatformSyncs(h, t);
  });
});
