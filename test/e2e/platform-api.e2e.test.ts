import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { captureEvents, type EventCapture } from '../support/event-capture.ts';
import { boothPlatform } from '../support/platforms.ts';
import {
  startSystem,
  type ApiPath,
  type ApiPathWithQuery,
  type System,
} from '../support/system.ts';

interface PlatformView {
  id: string;
  name: string;
  version: number;
  active: boolean;
  tags: string[];
  auth: { type: string; name?: string; token?: string };
  [k: string]: unknown;
}
interface ErrorBody {
  error: { code: string; message: string; details?: { path: string; message: string }[] };
}

const TOKEN = 'booth-secret-token-7f3a9c1e5b';

/** Seed 000's booth example as the issue shows it, pointed at the fake platform. */
const boothExample = (baseUrl: string) => ({
  name: 'booth-api',
  description: 'Festival booths and their menus',
  baseUrl,
  active: true,
  priority: 5,
  tags: ['festival'],
  auth: { type: 'header', name: 'X-Key', token: TOKEN },
  timeoutMs: 10000,
  rateLimit: { requestsPerSecond: 10, concurrency: 4 },
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 30000 },
  resources: [
    {
      name: 'booths',
      tasks: ['sync', 'validate'],
      request: { method: 'GET', path: '/booth/all', query: {} },
      pagination: { type: 'none' },
      itemsPath: 'data',
      successWhen: "header.resultCode = '00'",
      key: 'boothName',
      mapping: {
        name: 'boothName',
        allTable: 'boothAllTable',
        canUsage: 'boothUsageTable < boothAllTable',
        category: "'BOOTH'",
      },
      children: [
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
      schedule: { sync: { intervalSeconds: 300 } },
    },
  ],
});

describe('/api/v1/platforms', () => {
  let system: System;
  let fake: FakePlatform;
  let events: EventCapture;
  /** Every response body this file received, to search for the token. */
  const seen: string[] = [];

  const api = async <T = PlatformView>(
    path: ApiPathWithQuery,
    init: Parameters<System['api']>[1] & {
      apiKey?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const res = await system.api<T>(path, init);
    seen.push(JSON.stringify(res.body ?? null));
    return res;
  };

  before(async () => {
    fake = await startFakePlatform();
    fake.route('GET', '/booth/all', (req) =>
      req.headers['x-key'] === TOKEN
        ? { body: { header: { resultCode: '00' }, data: [{ boothName: 'A' }, { boothName: 'B' }] } }
        : { status: 401, body: { header: { resultCode: '99' } } },
    );
    system = await startSystem({
      name: 'platform-api',
      services: ['platform-registry', 'gateway'],
    });
    events = await captureEvents(system.env.vhost, 'platform.#');
  });

  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  describe('credentials', () => {
    let id: string;

    it('when the booth example is registered, then everything but the token reads back and the token is masked', async () => {
      const input = boothExample(fake.url);
      const created = await api('/api/v1/platforms', { body: input });
      assert.equal(created.status, 201);
      id = created.body.id;
      assert.equal(created.headers.get('etag'), '"1"');
      const read = await api(`/api/v1/platforms/${id}`);
      assert.equal(read.status, 200);
      const { id: _i, version, createdAt, updatedAt, maxResponseBytes, ...rest } = read.body;
      assert.equal(version, 1);
      assert.ok(createdAt && updatedAt && maxResponseBytes);
      const expected = structuredClone(input) as Record<string, unknown>;
      expected.auth = { type: 'header', name: 'X-Key', token: '***' };
      // Defaults the contract fills in are part of what is read back.
      const resource = (rest.resources as Record<string, unknown>[])[0]!;
      assert.deepEqual(resource.children, input.resources[0]!.children);
      assert.deepEqual({ ...rest, resources: undefined }, { ...expected, resources: undefined });
      assert.equal(resource.successWhen, "header.resultCode = '00'");
      assert.deepEqual(resource.mapping, input.resources[0]!.mapping);
      assert.deepEqual(resource.schedule, { sync: { intervalSeconds: 300 } });
    });

    it('when the platform is tested, then the stored token reaches the platform and the call succeeds', async () => {
      const res = await api<{ ok: boolean; status: number; itemCount: number }>(
        `/api/v1/platforms/${id}/test`,
        { method: 'POST', body: {} },
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.ok, true);
      assert.equal(res.body.itemCount, 2);
      assert.equal(fake.requests.at(-1)?.headers['x-key'], TOKEN);
    });

    it('when the platform is replaced without its token, then the token is kept', async () => {
      const current = await api(`/api/v1/platforms/${id}`);
      const put = await api(`/api/v1/platforms/${id}`, {
        method: 'PUT',
        body: { ...current.body, description: 'renamed' },
      });
      assert.equal(put.status, 200);
      assert.equal(put.body.version, 2);
      const tested = await api<{ ok: boolean }>(`/api/v1/platforms/${id}/test`, {
        method: 'POST',
        body: {},
      });
      assert.equal(tested.body.ok, true);
    });

    it('then the token appears in no API response, log line or event body', async () => {
      const bodies: unknown[] = [];
      // registered + updated, relayed by the outbox
      await waitFor(async () => (bodies.push(...(await events.drain())), bodies.length >= 2), {
        message: 'platform events',
      });
      const logs = [...system.services.values()].flatMap((s) => s.process.lines());
      assert.ok(seen.length >= 5);
      assert.ok(logs.length > 0);
      for (const text of [...seen, ...logs, ...bodies.map((b) => JSON.stringify(b))]) {
        assert.ok(!text.includes(TOKEN), `token leaked in: ${text.slice(0, 200)}`);
      }
    });
  });

  describe('lifecycle and 4xx paths', () => {
    const create = (overrides: Record<string, unknown> = {}) =>
      api('/api/v1/platforms', { body: boothPlatform(fake.url, overrides) });

    it('when a JSONata expression is invalid, then 422 names its JSON path', async () => {
      const bad = boothPlatform(fake.url);
      bad.resources[0]!.mapping.name = 'boothName[';
      const res = await api<ErrorBody>('/api/v1/platforms', { body: bad });
      assert.equal(res.status, 422);
      assert.equal(res.body.error.code, 'validation_failed');
      assert.match(res.body.error.message, /^resources\[0\]\.mapping\.name: invalid JSONata/);
      const child = boothPlatform(fake.url, {});
      (child.resources[0] as Record<string, unknown>).children = [
        { name: 'menus', itemsPath: 'menus', key: 'menuName', mapping: { sold: '$$$(' } },
      ];
      const res2 = await api<ErrorBody>('/api/v1/platforms', { body: child });
      assert.equal(res2.status, 422);
      assert.equal(
        res2.body.error.details?.[0]?.path,
        'body.resources[0].children[0].mapping.sold',
      );
    });

    it('when a field is unknown or missing, then 422 names it', async () => {
      const res = await api<ErrorBody>('/api/v1/platforms', {
        body: { ...boothPlatform(fake.url), colour: 'red' },
      });
      assert.equal(res.status, 422);
      assert.match(JSON.stringify(res.body.error.details), /colour/);
      const res2 = await api<ErrorBody>('/api/v1/platforms', { body: { name: 'x' } });
      assert.equal(res2.status, 422);
      assert.ok(res2.body.error.details?.some((d) => d.path === 'body.baseUrl'));
    });

    it('when the baseUrl is a private or metadata address, then 422 egress_denied', async () => {
      for (const baseUrl of [
        'http://10.0.0.1',
        'http://169.254.169.254',
        'http://[fd00::1]',
        // 10.0.0.1 and 169.254.169.254 written as IPv4-mapped and IPv4-translated (::ffff:0:0:0/96)
        'http://[::ffff:a00:1]',
        'http://[::ffff:0:a00:1]',
        'http://[::ffff:0:a9fe:a9fe]',
      ]) {
        const res = await api<ErrorBody>('/api/v1/platforms', { body: boothPlatform(baseUrl) });
        assert.equal(res.status, 422, baseUrl);
        assert.equal(res.body.error.code, 'egress_denied');
      }
    });

    it('when two platforms share a name, then the second is 409', async () => {
      const first = await create({ name: 'dup-name' });
      assert.equal(first.status, 201);
      const second = await api<ErrorBody>('/api/v1/platforms', {
        body: boothPlatform(fake.url, { name: 'dup-name' }),
      });
      assert.equal(second.status, 409);
      assert.equal(second.body.error.code, 'conflict');
    });

    it('when platforms are listed, then active and tag filter them and the cursor pages through', async () => {
      await create({ name: 'list-a', tags: ['east'] });
      await create({ name: 'list-b', tags: ['east'], active: false });
      await create({ name: 'list-c', tags: ['west'] });
      const east = await api<{ items: PlatformView[] }>('/api/v1/platforms?tag=east');
      assert.deepEqual(
        east.body.items.map((p) => p.name),
        ['list-a', 'list-b'],
      );
      const inactive = await api<{ items: PlatformView[] }>('/api/v1/platforms?active=false');
      assert.deepEqual(
        inactive.body.items.map((p) => p.name),
        ['list-b'],
      );
      const active = await api<{ items: PlatformView[] }>('/api/v1/platforms/active?limit=500');
      assert.ok(active.body.items.every((p) => p.active));
      assert.ok(!active.body.items.some((p) => p.name === 'list-b'));
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const pageRes = await api<{ items: PlatformView[]; nextCursor: string | null }>(
          `/api/v1/platforms?limit=2${q}`,
        );
        assert.ok(pageRes.body.items.length <= 2);
        names.push(...pageRes.body.items.map((p) => p.name));
        cursor = pageRes.body.nextCursor;
      } while (cursor);
      assert.deepEqual(names, [...names].sort());
      assert.ok(['list-a', 'list-b', 'list-c', 'booth-api'].every((n) => names.includes(n)));
      const bad = await api<ErrorBody>('/api/v1/platforms?active=maybe');
      assert.equal(bad.status, 422);
    });

    it('when a platform id is unknown or not a uuid, then 404 or 422', async () => {
      const missing = await api<ErrorBody>(
        '/api/v1/platforms/6f1c3d2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f',
      );
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'not_found');
      const bad = await api<ErrorBody>('/api/v1/platforms/not-a-uuid');
      assert.equal(bad.status, 422);
    });

    it('when If-Match is stale, then PUT, PATCH and DELETE are 412 and nothing changes', async () => {
      const { body: p } = await create({ name: 'versioned' });
      const patched = await api(`/api/v1/platforms/${p.id}`, {
        method: 'PATCH',
        body: { priority: 7 },
        headers: { 'if-match': '"1"' },
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.version, 2);
      assert.equal(patched.body.priority, 7);
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const res = await api<ErrorBody>(`/api/v1/platforms/${p.id}`, {
          method,
          ...(method === 'DELETE'
            ? {}
            : {
                body:
                  method === 'PUT'
                    ? boothPlatform(fake.url, { name: 'versioned' })
                    : { priority: 2 },
              }),
          headers: { 'if-match': '"1"' },
        });
        assert.equal(res.status, 412, method);
        assert.equal(res.body.error.code, 'precondition_failed');
      }
      const read = await api(`/api/v1/platforms/${p.id}`);
      assert.equal(read.body.version, 2);
      assert.equal(read.headers.get('etag'), '"2"');
      const badHeader = await api<ErrorBody>(`/api/v1/platforms/${p.id}`, {
        method: 'PATCH',
        body: { priority: 3 },
        headers: { 'if-match': 'yesterday' },
      });
      assert.equal(badHeader.status, 400);
    });

    it('when a patch breaks a rule, then 422 names the path and the platform is unchanged', async () => {
      const { body: p } = await create({ name: 'patch-rules' });
      const res = await api<ErrorBody>(`/api/v1/platforms/${p.id}`, {
        method: 'PATCH',
        body: { priority: 42, resources: [{ ...boothPlatform(fake.url).resources[0], key: '(' }] },
      });
      assert.equal(res.status, 422);
      assert.ok(res.body.error.details?.some((d) => d.path === 'body.priority'));
      const res2 = await api<ErrorBody>(`/api/v1/platforms/${p.id}`, {
        method: 'PATCH',
        body: { resources: [{ ...boothPlatform(fake.url).resources[0], key: '(' }] },
      });
      assert.equal(res2.status, 422);
      assert.equal(res2.body.error.details?.[0]?.path, 'body.resources[0].key');
      const renamed = await api<ErrorBody>(`/api/v1/platforms/${p.id}`, {
        method: 'PATCH',
        body: { name: 'dup-name' },
      });
      assert.equal(renamed.status, 409);
      assert.equal((await api(`/api/v1/platforms/${p.id}`)).body.version, 1);
    });

    it('when a platform is deactivated and deleted, then platform.updated and platform.deleted are published and it is gone', async () => {
      const { body: p } = await create({ name: 'retired' });
      await api(`/api/v1/platforms/${p.id}`, { method: 'PATCH', body: { active: false } });
      const del = await api(`/api/v1/platforms/${p.id}`, { method: 'DELETE' });
      assert.equal(del.status, 204);
      assert.equal((await api(`/api/v1/platforms/${p.id}`)).status, 404);
      assert.equal((await api(`/api/v1/platforms/${p.id}`, { method: 'DELETE' })).status, 404);
      const got: { type: string; payload: Record<string, unknown> }[] = [];
      await waitFor(
        async () => {
          got.push(...(await events.drain()));
          return got.some((e) => e.type === 'platform.deleted' && e.payload.platformId === p.id);
        },
        { message: 'platform.deleted' },
      );
      const mine = got.filter(
        (e) =>
          e.payload.platformId === p.id ||
          (e.payload.platform as { id?: string } | undefined)?.id === p.id,
      );
      assert.deepEqual(
        mine.map((e) => [
          e.type,
          (e.payload.platform as { active?: boolean })?.active ?? e.payload.version,
        ]),
        [
          ['platform.registered', true],
          ['platform.updated', false],
          ['platform.deleted', 3],
        ],
      );
    });

    it('when a body is not JSON or too large, then 415 or 413', async () => {
      const res = await fetch(`${system.gatewayUrl}/api/v1/platforms`, {
        method: 'POST',
        headers: { 'x-api-key': system.adminKey, 'content-type': 'text/plain' },
        body: 'name=x',
      });
      assert.equal(res.status, 415);
      const big = await fetch(`${system.gatewayUrl}/api/v1/platforms`, {
        method: 'POST',
        headers: { 'x-api-key': system.adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ description: 'x'.repeat(2 * 1024 * 1024) }),
      });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as ErrorBody).error.code, 'payload_too_large');
    });

    it('when a route does not exist, then 404 in the envelope', async () => {
      // A route the API does not have, on purpose.
      const res = await api<ErrorBody>('/api/v1/nothing-here' as ApiPath);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'not_found');
    });
  });

  describe('POST /api/v1/platforms/{id}/test', () => {
    it('when the platform redirects to a private address, then 502 redirect_blocked and it is not followed', async () => {
      fake.route('GET', '/moved', () => ({
        status: 302,
        headers: { location: 'http://10.0.0.1/booth/all' },
      }));
      const { body: p } = await api('/api/v1/platforms', {
        body: boothPlatform(fake.url, {
          name: 'redirector',
          resources: [{ ...boothPlatform(fake.url).resources[0], request: { path: '/moved' } }],
        }),
      });
      const res = await api<ErrorBody>(`/api/v1/platforms/${p.id}/test`, {
        method: 'POST',
        body: {},
      });
      assert.equal(res.status, 502);
      assert.equal(res.body.error.code, 'redirect_blocked');
    });

    it('when the platform is slower than its timeout, then 504; when nothing listens, then 503', async () => {
      fake.route('GET', '/slow', () => ({ body: { data: [] } }));
      fake.setLatency(1_500, { path: '/slow' });
      const { body: slow } = await api('/api/v1/platforms', {
        body: boothPlatform(fake.url, {
          name: 'slowpoke',
          timeoutMs: 200,
          resources: [{ ...boothPlatform(fake.url).resources[0], request: { path: '/slow' } }],
        }),
      });
      const timedOut = await api<ErrorBody>(`/api/v1/platforms/${slow.id}/test`, {
        method: 'POST',
        body: {},
      });
      assert.equal(timedOut.status, 504);
      fake.setLatency(0, { path: '/slow' });
      const closed = await startFakePlatform();
      const closedUrl = closed.url;
      await closed.stop();
      const { body: gone } = await api('/api/v1/platforms', {
        body: boothPlatform(closedUrl, { name: 'nobody-home' }),
      });
      const refused = await api<ErrorBody>(`/api/v1/platforms/${gone.id}/test`, {
        method: 'POST',
        body: {},
      });
      assert.equal(refused.status, 503);
      assert.doesNotMatch(refused.body.error.message, /http:/);
    });
  });
});
