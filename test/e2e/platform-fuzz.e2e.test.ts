import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startFakePlatform, type FakePlatform } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { startSystem, type System } from '../support/system.ts';

// Bodies never hold "http": a random baseUrl would make the registry resolve a random name.
const noUrls = (v: unknown) => !JSON.stringify(v ?? null).includes('http');

describe('platform endpoints under random JSON (fast-check)', () => {
  let system: System;
  let fake: FakePlatform;
  let id: string;

  before(async () => {
    fake = await startFakePlatform({ collections: { '/booth/all': [] } });
    system = await startSystem({ name: 'fuzz', services: ['platform-registry', 'gateway'] });
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(fake.url, { name: 'fuzz-target' }),
    });
    assert.equal(created.status, 201);
    id = created.body.id;
  });
  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  /** A valid platform with one field replaced by random JSON (deep paths included). */
  const mutated = fc
    .tuple(
      fc.constantFrom(
        'name',
        'priority',
        'tags',
        'auth',
        'timeoutMs',
        'resources',
        'rateLimit',
        'breaker',
        'schedule',
        'active',
      ),
      fc.jsonValue({ maxDepth: 3 }),
      fc.boolean(),
    )
    .map(([field, value, intoResource]) => {
      const body = boothPlatform(fake.url, { name: 'fuzz-mutant' }) as Record<string, unknown>;
      if (intoResource) {
        const resource = (body.resources as Record<string, unknown>[])[0]!;
        resource[field === 'name' ? 'key' : field] = value;
      } else body[field] = value;
      return body;
    });
  const anyBody = fc.oneof(fc.jsonValue({ maxDepth: 4 }), mutated);
  const targets = [
    ['POST', () => '/api/v1/platforms'],
    ['PUT', () => `/api/v1/platforms/${id}`],
    ['PATCH', () => `/api/v1/platforms/${id}`],
    ['POST', () => `/api/v1/platforms/${id}/test`],
  ] as const;

  it('when random JSON is sent, then every answer is a 2xx or a 4xx envelope, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), anyBody, async ([method, path], body) => {
        fc.pre(noUrls(body));
        const res = await fetch(`${system.gatewayUrl}${path()}`, {
          method,
          headers: { 'content-type': 'application/json', 'x-api-key': system.adminKey },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        assert.ok(res.status < 500, `${method} ${path()} → ${res.status} ${text.slice(0, 300)}`);
        if (res.status >= 400) {
          const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          assert.equal(typeof parsed.error?.code, 'string');
          assert.equal(typeof parsed.error?.message, 'string');
        }
      }),
      { numRuns: 300 },
    );
    for (const service of system.services.values()) {
      assert.equal((await fetch(`${service.url}/ready`)).status, 200);
    }
    assert.equal((await system.api(`/api/v1/platforms/${id}`)).status, 200);
  });
});
