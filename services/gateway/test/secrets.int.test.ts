import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@psc/telemetry';
import { waitFor } from '@psc/testing';
import { SCHEMA } from '../migrations/index.ts';
import { startGatewayInProcess, type InProcessGateway } from './in-process.ts';

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

/** Every run of `length` characters of `key`: a stored piece this long would be a leak. */
const pieces = (key: string, length = 12): string[] =>
  Array.from({ length: key.length - length + 1 }, (_, i) => key.slice(i, i + length));

describe('gateway secrets: API keys at rest, the request log', () => {
  let gateway: InProcessGateway;
  let url: string;
  const adminKey = `psc_admin_${randomBytes(16).toString('hex')}`;
  const lines: string[] = [];

  before(async () => {
    gateway = await startGatewayInProcess({
      name: 'gateway-secrets',
      adminKey,
      // The tests send many keys that open nothing; none of them is a guessing client.
      env: { PSC_AUTH_FAILURES_PER_MINUTE: '1000' },
      // Every level: a secret must stay out of any line, not only the request log's.
      logger: createLogger({
        service: 'gateway',
        level: 'trace',
        destination: { write: (line: string) => void lines.push(line) },
      }),
    });
    ({ url } = gateway);
  });

  after(async () => {
    await gateway?.stop();
  });

  const call = async (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ) => {
    const res = await fetch(`${url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...init.headers,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const asAdmin = { 'x-api-key': adminKey };

  it('when keys are created through the API and used, then no column of any gateway table holds a key or 12 characters of one, and a dump of the table opens nothing', async () => {
    const keys = [adminKey];
    for (const role of ['viewer', 'operator']) {
      const created = await call('/api/v1/api-keys', {
        headers: asAdmin,
        body: { name: `at-rest ${role}`, role },
      });
      assert.equal(created.status, 201);
      const key = created.body.key as string;
      keys.push(key);
      // Used once, so whatever a request writes (last use, rate-limit counters) is written too.
      assert.equal((await call('/api/v1/me', { headers: { 'x-api-key': key } })).status, 200);
    }
    const revoke = await call('/api/v1/api-keys', {
      headers: asAdmin,
      body: { name: 'revoked', role: 'viewer' },
    });
    keys.push(revoke.body.key as string);
    const revoked = await call(`/api/v1/api-keys/${revoke.body.id as string}`, {
      method: 'DELETE',
      headers: asAdmin,
    });
    assert.equal(revoked.status, 204);

    const tables = await gateway
      .knex('information_schema.tables')
      .where({ table_schema: SCHEMA, table_type: 'BASE TABLE' })
      .pluck<string[]>('table_name');
    assert.ok(tables.includes('api_keys') && tables.includes('audit_log'), tables.join());
    const found: string[] = [];
    for (const table of tables) {
      // The whole row as text: every column, whatever its type.
      const { rows } = await gateway.knex.raw<{ rows: { row: string }[] }>(
        'select t::text as row from ??.?? t',
        [SCHEMA, table],
      );
      for (const { row } of rows) {
        for (const key of keys) {
          const piece = pieces(key).find((p) => row.includes(p));
          if (piece) found.push(`${table}: ${piece}… of a key in ${row}`);
        }
      }
    }
    assert.deepEqual(found, []);

    // What is stored identifies a key only through its hash: each value of a dump, sent as a
    // key, is refused, while the key it was made from works.
    const stored = await gateway.knex.withSchema(SCHEMA).table('api_keys').whereNull('revoked_at');
    const hashes = keys.map((k) => createHash('sha256').update(k).digest('hex'));
    assert.equal(stored.length, 3);
    for (const row of stored as Record<string, unknown>[]) {
      assert.ok(hashes.includes(row.key_hash as string), 'the SHA-256 of a key it was made from');
      for (const value of Object.values(row)) {
        if (typeof value !== 'string') continue;
        const tried = await call('/api/v1/me', { headers: { 'x-api-key': value } });
        assert.equal(tried.status, 401, `the stored ${value} opens nothing`);
      }
    }
    assert.equal((await call('/api/v1/me', { headers: { 'x-api-key': keys[1]! } })).status, 200);
  });

  it('when requests carry secrets in their bodies, query strings and key headers, then the log holds none of them, and each request’s line still says method, route and status', async () => {
    const secrets = {
      bodyName: secret('body-name'),
      bodyField: secret('body-field'),
      bodyToken: secret('body-token'),
      queryToken: secret('query-token'),
      queryApiKey: secret('query-api-key'),
      queryAccessToken: secret('query-access-token'),
      wrongKey: secret('psc_wrong'),
      wrongBearer: secret('psc_bearer'),
    };
    const at = lines.length;
    const sent: { method: string; route: string; status: number }[] = [];
    const expect = async (
      route: string,
      path: string,
      init: Parameters<typeof call>[1],
      status: number,
    ) => {
      const res = await call(path, init);
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
      sent.push({ method: init?.method ?? (init?.body ? 'POST' : 'GET'), route, status });
      return res;
    };

    // An answer that carries a secret of its own: the new key.
    const created = await expect(
      '/api/v1/api-keys',
      `/api/v1/api-keys?token=${secrets.queryToken}`,
      { headers: asAdmin, body: { name: secrets.bodyName, role: 'viewer' } },
      201,
    );
    const newKey = created.body.key as string;
    // A body refused for a field it may not hold.
    await expect(
      '/api/v1/api-keys',
      '/api/v1/api-keys',
      { headers: asAdmin, body: { name: 'x', role: 'viewer', note: secrets.bodyField } },
      422,
    );
    // Through the bearer header, with secrets in the query the route ignores.
    await expect(
      '/api/v1/api-keys',
      `/api/v1/api-keys?api_key=${secrets.queryApiKey}&access_token=${secrets.queryAccessToken}`,
      { headers: { authorization: `Bearer ${newKey}` } },
      403,
    );
    // A platform credential in the body, on a request that fails at the registry (none runs):
    // the 5xx path logs the failure too.
    await expect(
      '/api/v1/platforms',
      `/api/v1/platforms?token=${secrets.queryToken}`,
      {
        headers: asAdmin,
        body: {
          name: 'logged',
          baseUrl: 'https://example.com',
          auth: { type: 'bearer', token: secrets.bodyToken },
          resources: [
            { name: 'r', request: { path: '/' }, itemsPath: '$', key: 'id', mapping: {} },
          ],
        },
      },
      503,
    );
    // Keys that open nothing, in either header, and a route no router has.
    await expect(
      '/api/v1/platforms',
      '/api/v1/platforms',
      { headers: { 'x-api-key': secrets.wrongKey } },
      401,
    );
    await expect(
      '/api/v1/platforms',
      `/api/v1/platforms?api_key=${secrets.queryApiKey}`,
      { headers: { authorization: `Bearer ${secrets.wrongBearer}` } },
      401,
    );
    await expect(
      '/api/v1/nowhere',
      `/api/v1/nowhere?token=${secrets.queryToken}`,
      { headers: asAdmin },
      404,
    );

    // A request's line is written when its response closes, which may be after the client read it.
    const requestLines = () =>
      lines
        .slice(at)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request');
    await waitFor(() => requestLines().length >= sent.length, {
      timeoutMs: 5_000,
      message: `${sent.length} request lines`,
    });
    assert.deepEqual(
      requestLines().map((l) => ({ method: l.method, route: l.route, status: l.status })),
      sent,
    );

    const forbidden = [...Object.values(secrets), newKey, adminKey];
    const leaks = lines
      .slice(at)
      .flatMap((line) => forbidden.filter((s) => line.includes(s)).map((s) => `${s} in ${line}`));
    assert.deepEqual(leaks, []);
    assert.ok(
      lines.slice(at).some((l) => l.includes('request failed')),
      'the 503 was logged',
    );
  });
});
