import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  boothSample,
  freePort,
  startFakePlatform,
  waitFor,
  type FakePlatformOptions,
} from '../src/index.ts';

interface ListBody {
  data: Record<string, unknown>[];
  total: number;
  next: number | string | null;
}

const items = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}` }));
const ids = (list: Record<string, unknown>[]) => list.map((item) => item.id);

async function startPlatform(t: TestContext, options?: FakePlatformOptions) {
  const platform = await startFakePlatform(options);
  t.after(() => platform.stop());
  return platform;
}

async function getJson(url: string): Promise<{ res: Response; body: ListBody }> {
  const res = await fetch(url);
  return { res, body: (await res.json()) as ListBody };
}

describe('fake platform collections', { timeout: 20_000 }, () => {
  it('when no paging is asked for, then serves the whole list', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });

    const { res, body } = await getJson(`${platform.url}/items`);

    assert.equal(res.status, 200);
    assert.deepEqual(body, { data: items, total: 5, next: null });
    assert.equal(res.headers.get('x-total-count'), '5');
  });

  it('when paging by page and size, then pages are 1-based and next is the page number', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });

    const first = await getJson(`${platform.url}/items?page=1&size=2`);
    const last = await getJson(`${platform.url}/items?page=3&size=2`);
    const beyond = await getJson(`${platform.url}/items?page=4&size=2`);

    assert.deepEqual([ids(first.body.data), first.body.next, first.body.total], [[1, 2], 2, 5]);
    assert.deepEqual([ids(last.body.data), last.body.next], [[5], null]);
    assert.deepEqual(beyond.body.data, []);
  });

  it('when a collection renames its page params and starts at 0, then those are honoured', async (t) => {
    const platform = await startPlatform(t);
    platform.setCollection('/items', items, {
      paging: 'page',
      params: { page: 'p', size: 'per_page' },
      firstPage: 0,
    });

    const { body } = await getJson(`${platform.url}/items?p=1&per_page=2`);

    assert.deepEqual([ids(body.data), body.next], [[3, 4], 2]);
  });

  it('when paging by offset and limit, then next is the next offset', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });

    const middle = await getJson(`${platform.url}/items?offset=2&limit=2`);
    const end = await getJson(`${platform.url}/items?offset=4&limit=2`);

    assert.deepEqual([ids(middle.body.data), middle.body.next], [[3, 4], 4]);
    assert.deepEqual([ids(end.body.data), end.body.next], [[5], null]);
  });

  it('when following cursors from a bare limit, then every item is seen once', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });

    const seen: unknown[] = [];
    const cursors: unknown[] = [];
    let url: string | null = `${platform.url}/items?limit=2`;
    while (url) {
      const { body }: { body: ListBody } = await getJson(url);
      seen.push(...ids(body.data));
      cursors.push(body.next);
      url = body.next === null ? null : `${platform.url}/items?limit=2&cursor=${body.next}`;
    }

    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal(cursors.length, 3);
    assert.ok(cursors.slice(0, 2).every((c) => typeof c === 'string' && !/^\d+$/.test(c)));
  });

  it('when the cursor is garbage, then answers 400', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });

    const res = await fetch(`${platform.url}/items?cursor=nope&limit=2`);

    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /invalid cursor/);
  });

  it('when paging=link, then follows RFC 8288 Link headers to the end', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });

    const seen: unknown[] = [];
    const links: (string | null)[] = [];
    let url: string | null = `${platform.url}/items?paging=link&size=2&status=open`;
    while (url) {
      const { res, body }: { res: Response; body: ListBody } = await getJson(url);
      seen.push(...ids(body.data));
      const link = res.headers.get('link');
      links.push(link);
      url = link === null ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null);
    }

    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal(links.length, 3);
    assert.equal(links[2], null);
    const second = new URL(/<([^>]+)>/.exec(links[0] ?? '')?.[1] ?? '');
    assert.deepEqual(Object.fromEntries(second.searchParams), {
      paging: 'link',
      size: '2',
      status: 'open',
      page: '2',
    });
  });

  it('when a collection has a render function, then the body takes its shape', async (t) => {
    const platform = await startPlatform(t);
    platform.setCollection('/booths', boothSample(3), {
      paging: 'page',
      defaultSize: 2,
      render: (pageItems, meta) => ({
        result: pageItems,
        pageInfo: { total: meta.total, page: meta.page, hasNext: meta.next !== null },
      }),
    });

    const res = await fetch(`${platform.url}/booths`);

    assert.deepEqual(await res.json(), {
      result: boothSample(3).slice(0, 2),
      pageInfo: { total: 3, page: 1, hasNext: true },
    });
  });

  it('when items are added, updated and removed, then GET reflects it', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items.slice(0, 2) } });

    platform.addItem('/items', { id: 3, name: 'item 3' });
    const updated = platform.updateItem('/items', (item) => item.id === 1, { name: 'renamed' });
    const removed = platform.removeItem('/items', (item) => item.id === 2);
    const { body } = await getJson(`${platform.url}/items`);

    assert.equal(updated, 1);
    assert.equal(removed, 1);
    assert.deepEqual(body.data, [
      { id: 1, name: 'renamed' },
      { id: 3, name: 'item 3' },
    ]);
    assert.deepEqual(platform.getCollection('/items'), body.data);
  });

  it('when a collection has an idField, then GET <path>/<id> returns the item or 404', async (t) => {
    const platform = await startPlatform(t);
    platform.setCollection('/items', items, { idField: 'id' });

    const found = await fetch(`${platform.url}/items/3`);
    const missing = await fetch(`${platform.url}/items/99`);

    assert.deepEqual(await found.json(), { id: 3, name: 'item 3' });
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  it('when a custom route is set, then it answers with the request it got', async (t) => {
    const platform = await startPlatform(t);
    platform.route('POST', '/oauth/token', (request) => ({
      status: 201,
      body: { token: `for-${(request.body as { client: string }).client}` },
    }));

    const res = await fetch(`${platform.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client: 'psc' }),
    });

    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { token: 'for-psc' });
  });

  it('when required headers are missing, then answers 401', async (t) => {
    const platform = await startPlatform(t, {
      collections: { '/items': items },
      requireHeaders: { 'X-Api-Key': 'secret' },
    });

    const denied = await fetch(`${platform.url}/items`);
    const allowed = await fetch(`${platform.url}/items`, { headers: { 'x-api-key': 'secret' } });

    assert.equal(denied.status, 401);
    assert.equal(allowed.status, 200);
    await Promise.all([denied.arrayBuffer(), allowed.arrayBuffer()]);
  });

  it('when a port is given, then listens there on loopback', async (t) => {
    const port = await freePort();
    const platform = await startPlatform(t, { port, collections: { '/items': items } });

    const res = await fetch(`http://127.0.0.1:${port}/items`);

    assert.equal(platform.url, `http://127.0.0.1:${port}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  it('when requests arrive, then they are logged with method, path, query, headers and time', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    const before = Date.now();

    await (
      await fetch(`${platform.url}/items?page=2&size=1`, { headers: { 'x-trace': 'abc' } })
    ).arrayBuffer();

    assert.equal(platform.requests.length, 1);
    const [request] = platform.requests;
    assert.equal(request?.method, 'GET');
    assert.equal(request?.path, '/items');
    assert.deepEqual(request?.query, { page: '2', size: '1' });
    assert.equal(request?.headers['x-trace'], 'abc');
    assert.ok(request && request.at >= before && request.at <= Date.now());
    platform.clearRequests();
    assert.equal(platform.requests.length, 0);
  });
});

describe('fake platform faults', { timeout: 20_000 }, () => {
  it('when failNext is set with a status, then that many requests fail and then it recovers', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.failNext(2, { status: 503, body: { error: 'maintenance' } });

    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${platform.url}/items`);
      statuses.push(res.status);
      await res.arrayBuffer();
    }

    assert.deepEqual(statuses, [503, 503, 200]);
  });

  it('when a 429 with Retry-After is injected, then the client sees both', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.failNext(1, {
      status: 429,
      headers: { 'retry-after': '2' },
      body: { error: 'slow down' },
    });

    const res = await fetch(`${platform.url}/items`);

    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '2');
    assert.deepEqual(await res.json(), { error: 'slow down' });
  });

  it('when a timeout is injected, then no answer comes until the server stops', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.failNext(1, 'timeout');

    const hung = fetch(`${platform.url}/items`, { signal: AbortSignal.timeout(300) });

    await assert.rejects(hung, { name: 'TimeoutError' });
    assert.equal(platform.requests.length, 1, 'the request did reach the server');
    const second = await fetch(`${platform.url}/items`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(second.status, 200, 'one-shot timeout is used up');
    await second.arrayBuffer();
  });

  it('when a request hangs, then stop() still closes promptly and the client sees an error', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.setFault('timeout');
    const hung = fetch(`${platform.url}/items`);
    hung.catch(() => {});
    await waitFor(() => platform.requests.length === 1, { message: 'the request to arrive' });

    await platform.stop();

    await assert.rejects(hung, TypeError);
  });

  it('when a reset is injected, then the connection drops without a response', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.failNext(1, 'reset');

    const error = await fetch(`${platform.url}/items`).then(
      () => assert.fail('fetch resolved'),
      (err: unknown) => err,
    );

    assert.ok(error instanceof TypeError);
    assert.match(
      String((error.cause as { code?: string } | undefined)?.code),
      /ECONNRESET|UND_ERR_SOCKET/,
    );
  });

  it('when bad JSON is injected, then the 200 body does not parse', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.failNext(1, 'bad-json');

    const res = await fetch(`${platform.url}/items`);

    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    await assert.rejects(res.json(), SyntaxError);
  });

  it('when a persistent fault is scoped to a path, then only that path fails until cleared', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items, '/booths': [] } });
    platform.setFault({ status: 500 }, { path: '/items' });

    const statusOf = async (path: string) => {
      const res = await fetch(`${platform.url}${path}`);
      await res.arrayBuffer();
      return res.status;
    };

    assert.deepEqual(
      [await statusOf('/items'), await statusOf('/items'), await statusOf('/booths')],
      [500, 500, 200],
    );
    platform.setFault(null, { path: '/items' });
    assert.equal(await statusOf('/items'), 200);
  });

  it('when one-shot faults are scoped by method, then other methods pass', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.route('POST', '/items', () => ({ status: 202 }));
    platform.failNext(1, { status: 500 }, { method: 'post' });

    const get = await fetch(`${platform.url}/items`);
    const post = await fetch(`${platform.url}/items`, { method: 'POST' });

    assert.deepEqual([get.status, post.status], [200, 500]);
    await Promise.all([get.arrayBuffer(), post.arrayBuffer()]);
  });

  it('when latency is set, then responses take at least that long', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.setLatency(150);

    const started = performance.now();
    const res = await fetch(`${platform.url}/items`);
    await res.arrayBuffer();
    const slow = performance.now() - started;
    platform.setLatency(0);
    const fastStarted = performance.now();
    await (await fetch(`${platform.url}/items`)).arrayBuffer();
    const fast = performance.now() - fastStarted;

    assert.equal(res.status, 200);
    assert.ok(slow >= 145, `slow request took ${slow} ms`);
    assert.ok(fast < 145, `fast request took ${fast} ms`);
  });

  it('when reset() is called, then faults, latency and the log are cleared', async (t) => {
    const platform = await startPlatform(t, { collections: { '/items': items } });
    platform.setFault({ status: 500 });
    platform.failNext(3, 'reset');
    await fetch(`${platform.url}/items`).catch(() => {});

    platform.reset();
    const res = await fetch(`${platform.url}/items`);

    assert.equal(res.status, 200);
    assert.equal(platform.requests.length, 1);
    await res.arrayBuffer();
  });
});

describe('boothSample', { timeout: 20_000 }, () => {
  it('when called, then returns deterministic seed-004 booths starting with the documented one', () => {
    const booths = boothSample(4);

    assert.equal(booths.length, 4);
    assert.deepEqual(booths[0], {
      boothName: 'Booth 1',
      boothAllTable: 10,
      boothUsageTable: 3,
      menus: [
        { menuName: 'Tteokbokki', menuIngredidentReminder: 'rice cake', menuSalesQuantity: 12 },
      ],
    });
    assert.deepEqual(boothSample(4), booths);
    assert.deepEqual(
      booths.map((b) => b.boothName),
      ['Booth 1', 'Booth 2', 'Booth 3', 'Booth 4'],
    );
    assert.ok(booths.every((b) => b.boothUsageTable <= b.boothAllTable && b.menus.length > 0));
    assert.equal(boothSample().length, 3);
  });
});
