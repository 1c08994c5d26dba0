import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, type FakePlatform } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import type { components } from '@psc/api-client';
import { startSystem, type ApiPathWithQuery, type System } from '../support/system.ts';

interface ErrorBody {
  error: { code: string; message: string; traceId?: string };
}
type Created = components['schemas']['ApiKeyCreated'];

const ORIGIN = 'https://ops.example.com';
const checkedInDocument = JSON.parse(
  readFileSync(new URL('../../libs/api-client/openapi.json', import.meta.url), 'utf8'),
) as unknown;

describe('gateway security: API keys, roles, audit, limits, docs', () => {
  let system: System;
  let fake: FakePlatform;
  const call = <T>(path: ApiPathWithQuery, init: Parameters<System['api']>[1] = {}) =>
    system.api<T>(path, init);

  before(async () => {
    fake = await startFakePlatform();
    system = await startSystem({
      name: 'api-security',
      services: ['platform-registry', 'gateway'],
      env: {
        PSC_RATE_LIMIT_PER_MINUTE: '60',
        PSC_AUTH_FAILURES_PER_MINUTE: '6',
        PSC_CORS_ORIGINS: ORIGIN,
        // As behind one reverse proxy: the client address is the last X-Forwarded-For entry.
        PSC_TRUSTED_PROXY_HOPS: '1',
      },
    });
  });
  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  describe('/api/v1/api-keys', () => {
    let viewer: Created;
    let operator: Created;

    it('when an admin creates keys, then each is shown once and works with its role', async () => {
      const res = await system.client.POST('/api/v1/api-keys', {
        body: { name: 'dashboards', role: 'viewer' },
      });
      assert.equal(res.response.status, 201);
      assert.ok(res.data);
      viewer = res.data;
      assert.match(viewer.key, /^psc_[A-Za-z0-9_-]{43}$/);
      const ops = await system.client.POST('/api/v1/api-keys', {
        body: { name: 'ops', role: 'operator' },
      });
      assert.ok(ops.data);
      operator = ops.data;
      const list = await system.client.GET('/api/v1/api-keys');
      assert.equal(list.response.status, 200);
      const items = list.data?.items ?? [];
      assert.deepEqual(items.map((k) => k.role).sort(), ['admin', 'operator', 'viewer']);
      assert.ok(!JSON.stringify(list.data).includes(viewer.key));
      assert.ok(items.every((k) => !('key' in k) && !('keyHash' in k)));
    });

    it('when a key lacks the role, then 403; without or with an unknown key, then 401', async () => {
      const read = await system.clientAs(viewer.key).GET('/api/v1/platforms');
      assert.equal(read.response.status, 200);
      const write = await call<ErrorBody>('/api/v1/platforms', {
        apiKey: operator.key,
        body: boothPlatform(fake.url),
      });
      assert.equal(write.status, 403);
      assert.equal(write.body.error.code, 'forbidden');
      const keys = await system.clientAs(viewer.key).GET('/api/v1/api-keys');
      assert.equal(keys.response.status, 403);
      assert.equal(keys.error?.error.code, 'forbidden');
      const none = await system.clientAs(null).GET('/api/v1/platforms');
      assert.equal(none.response.status, 401);
      assert.equal(none.error?.error.code, 'unauthorized');
      const unknown = await system.clientAs('psc_nope').GET('/api/v1/platforms');
      assert.equal(unknown.response.status, 401);
      const bad = await call<ErrorBody>('/api/v1/api-keys', { body: { name: 'x', role: 'root' } });
      assert.equal(bad.status, 422);
    });

    it('when a key is revoked, then it stops working at once', async () => {
      const revoke = () =>
        system.client.DELETE('/api/v1/api-keys/{id}', { params: { path: { id: operator.id } } });
      assert.equal((await revoke()).response.status, 204);
      const afterRevoke = await system.clientAs(operator.key).GET('/api/v1/platforms');
      assert.equal(afterRevoke.response.status, 401);
      const again = await revoke();
      assert.equal(again.response.status, 404);
      assert.equal(again.error?.error.code, 'not_found');
    });

    it('then the audit log shows who changed which key and platform, for admins only', async () => {
      const created = await call<{ id: string }>('/api/v1/platforms', {
        body: boothPlatform(fake.url, { name: 'audited' }),
      });
      await system.client.PATCH('/api/v1/platforms/{id}', {
        params: { path: { id: created.body.id } },
        body: { active: false },
      });
      const log = await system.client.GET('/api/v1/audit', { params: { query: { limit: 10 } } });
      assert.equal(log.response.status, 200);
      const items = log.data?.items ?? [];
      const actions = items.map((e) => `${e.action} ${e.targetId}`);
      assert.deepEqual(actions.slice(0, 5), [
        `platform.patched ${created.body.id}`,
        `platform.created ${created.body.id}`,
        `api-key.revoked ${operator.id}`,
        `api-key.created ${operator.id}`,
        `api-key.created ${viewer.id}`,
      ]);
      const me = items[0]!.actorKeyId;
      assert.match(me, /^[0-9a-f-]{36}$/);
      assert.ok(items.slice(0, 5).every((e) => e.actorKeyId === me));
      const denied = await system.clientAs(viewer.key).GET('/api/v1/audit');
      assert.equal(denied.response.status, 403);
    });

    it('then the request log names the key id and never the key', async () => {
      const gateway = system.services.get('gateway')!.process;
      // The viewer's last request (the denied audit read) is logged once its 4 KB stdout buffer
      // flushes (at least every 200 ms); lines arrive in order, so every earlier line is in too.
      await gateway.waitForLine(
        (l) =>
          l.includes('"msg":"request"') &&
          l.includes('"route":"/api/v1/audit"') &&
          l.includes(`"keyId":"${viewer.id}"`),
      );
      for (const line of gateway.lines()) {
        assert.ok(!line.includes(viewer.key) && !line.includes(system.adminKey), line);
      }
    });
  });

  describe('/openapi.json and /docs', () => {
    it('when the spec is fetched, then it is the OpenAPI 3.1 document the client was generated from, with a role per /api/v1 operation', async () => {
      const res = await system.client.GET('/openapi.json');
      assert.equal(res.response.status, 200);
      const spec = res.data as {
        openapi: string;
        paths: Record<string, Record<string, { operationId: string; 'x-psc-role'?: string }>>;
        components: { schemas: Record<string, unknown> };
      };
      assert.equal(spec.openapi, '3.1.0');
      assert.deepEqual(spec, checkedInDocument, 'libs/api-client/openapi.json is current');
      const ops = Object.entries(spec.paths).flatMap(([path, methods]) =>
        Object.values(methods).map((op) => ({ path, op })),
      );
      const api = ops.filter(({ path }) => path.startsWith('/api/v1/'));
      assert.ok(api.length > 50, `${api.length} operations`);
      assert.ok(
        api.every(({ op }) => ['viewer', 'operator', 'admin'].includes(op['x-psc-role'] ?? '')),
        'every /api/v1 operation declares a role, with tracing on or off',
      );
      assert.equal(spec.paths['/api/v1/run/{taskType}']?.post?.['x-psc-role'], 'operator');
      assert.equal(spec.paths['/api/v1/api-keys/{id}']?.delete?.['x-psc-role'], 'admin');
      assert.ok(spec.components.schemas.PlatformInput);
    });

    it('when /docs is opened, then the page and its assets come from the gateway itself', async () => {
      const page = await fetch(`${system.gatewayUrl}/docs`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      assert.ok(sources.length >= 3);
      for (const src of sources) {
        assert.ok(src.startsWith('/docs/'), src);
        assert.equal((await fetch(`${system.gatewayUrl}${src}`)).status, 200, src);
      }
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    });
  });

  describe('headers and CORS', () => {
    it('when a response is sent, then it carries the security headers', async () => {
      const res = await call('/api/v1/platforms');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('cache-control'), 'no-store');
    });

    it('when an allowed origin sends a preflight, then it is answered; another origin gets 403', async () => {
      const preflight = (origin: string) =>
        fetch(`${system.gatewayUrl}/api/v1/platforms`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'x-api-key, content-type',
          },
        });
      const ok = await preflight(ORIGIN);
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get('access-control-allow-origin'), ORIGIN);
      assert.match(ok.headers.get('access-control-allow-headers') ?? '', /X-API-Key/i);
      const other = await preflight('https://evil.example.net');
      assert.equal(other.status, 403);
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    });
  });

  describe('rate limits', () => {
    it('when a key goes over its per-minute limit, then 429 with Retry-After', async () => {
      const created = await system.client.POST('/api/v1/api-keys', {
        body: { name: 'busy', role: 'viewer' },
      });
      const key = created.data?.key ?? '';
      let limited: Response | undefined;
      for (let i = 0; i < 61 && !limited; i += 1) {
        const res = await fetch(`${system.gatewayUrl}/api/v1/platforms?limit=1`, {
          headers: { 'x-api-key': key },
        });
        await res.text();
        if (res.status === 429) limited = res;
        else assert.equal(res.status, 200);
      }
      assert.ok(limited, 'no 429 within the limit + 1 requests');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    });

    it('when the registry is gone, then platform calls are 503', async () => {
      await system.services.get('platform-registry')!.process.stop();
      const res = await system.client.GET('/api/v1/platforms/active');
      assert.equal(res.response.status, 503);
      assert.equal(res.error?.error.code, 'unavailable');
    });

    it('when one address behind the proxy keeps sending bad keys, then its guesses get 429 with Retry-After, while a good key from it and guesses from other addresses are still answered', async () => {
      const from = (ip: string) => ({ 'x-forwarded-for': `198.51.100.1, ${ip}` });
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 8; i += 1) {
        const res = await call('/api/v1/platforms', {
          apiKey: `psc_guess_${i}`,
          headers: from('203.0.113.7'),
        });
        statuses.push(res.status);
        retryAfter ??= res.headers.get('retry-after');
      }
      // 401 for the address's first 6 failures, then only 429s.
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429]);
      assert.ok(Number(retryAfter) >= 1);
      // A valid key from the same address works: one address can be many users.
      assert.equal((await call('/api/v1/api-keys', { headers: from('203.0.113.7') })).status, 200);
      // Another client behind the same proxy is not blocked with it.
      const other = await call('/api/v1/platforms', {
        apiKey: 'psc_guess_x',
        headers: from('203.0.113.8'),
      });
      assert.equal(other.status, 401);
    });
  });

  describe('GET /metrics of the gateway', () => {
    it('when it is scraped without a key, then 401; with a key as a Bearer token, then the figures', async () => {
      const open = await fetch(`${system.gatewayUrl}/metrics`);
      assert.equal(open.status, 401);
      assert.equal(((await open.json()) as { error: { code: string } }).error.code, 'unauthorized');
      const scraped = await fetch(`${system.gatewayUrl}/metrics`, {
        headers: { authorization: `Bearer ${system.adminKey}` },
      });
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /^http_request_duration_seconds_bucket\{/m);
    });
  });
});
