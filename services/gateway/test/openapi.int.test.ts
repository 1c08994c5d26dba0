import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startGatewayInProcess, type InProcessGateway } from './in-process.ts';

interface OperationDoc {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  'x-psc-role'?: string;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, OperationDoc>>;
}

describe('gateway OpenAPI document', () => {
  let gateway: InProcessGateway;
  let url: string;
  let doc: Document;
  const adminKey = `psc_admin_${randomBytes(16).toString('hex')}`;
  const operations = (): [string, OperationDoc][] =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]): [string, OperationDoc] => [
        `${method.toUpperCase()} ${path}`,
        op,
      ]),
    );

  before(async () => {
    gateway = await startGatewayInProcess({ name: 'openapi', adminKey });
    ({ url } = gateway);
    const res = await fetch(`${url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Document;
  });

  after(async () => {
    await gateway?.stop();
  });

  it('when the routers are compared with the document, then every route served is documented and every documented operation is served', () => {
    const served = gateway.app
      .routes()
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    const documented = operations()
      .map(([key]) => key)
      .sort();
    assert.deepEqual(served, documented);
    assert.ok(served.length > 50, `${served.length} routes`);
  });

  it('then every operation has a unique operationId, a summary, a tag and a success response', () => {
    const ids = operations().map(([, op]) => op.operationId);
    assert.ok(
      ids.every((id) => typeof id === 'string' && id.length > 0),
      'operationIds',
    );
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const [key, op] of operations()) {
      assert.ok(op.summary, `${key}: summary`);
      assert.equal(op.tags?.length, 1, `${key}: one tag`);
      assert.ok(
        Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)),
        `${key}: a 2xx response`,
      );
    }
  });

  it('then every /api/v1 operation names its role and answers 401, 403, 429 and 5xx with the error envelope', () => {
    for (const [key, op] of operations()) {
      // The gateway's own /metrics wants a key like the API; the other service routes none.
      if (!key.includes(' /api/v1/') && key !== 'GET /metrics') {
        assert.deepEqual(op.security, [], `${key} needs no key`);
        continue;
      }
      assert.ok(['viewer', 'operator', 'admin'].includes(op['x-psc-role'] ?? ''), `${key}: role`);
      for (const status of ['401', '403', '429', '500', '503']) {
        const schema = op.responses[status]?.content?.['application/json']?.schema;
        assert.equal(schema?.$ref, '#/components/schemas/Error', `${key}: ${status}`);
      }
    }
  });

  it('then the statuses the routes answer are the documented ones (202 for run-now, 204 for deletes)', () => {
    const success = (key: string) =>
      Object.keys(operations().find(([k]) => k === key)?.[1].responses ?? {}).filter((s) =>
        s.startsWith('2'),
      );
    assert.deepEqual(success('POST /api/v1/run/{taskType}'), ['202']);
    assert.deepEqual(success('DELETE /api/v1/dlq/{jobId}'), ['204']);
    assert.deepEqual(success('DELETE /api/v1/platforms/{id}'), ['204']);
    assert.deepEqual(success('DELETE /api/v1/api-keys/{id}'), ['204']);
    assert.deepEqual(success('POST /api/v1/platforms'), ['201']);
    assert.deepEqual(success('POST /api/v1/collections'), ['202']);
  });

  it('when an /api/v1 path is called with a method it does not have, then 405 names the methods it has, with the error envelope', async () => {
    // One path of several routers, each mounted into the API router: [path, documented as, method].
    const job = '00000000-0000-4000-8000-000000000000';
    for (const [path, documentedAs, method] of [
      ['/api/v1/platforms', '/api/v1/platforms', 'PATCH'],
      [`/api/v1/dlq/${job}`, '/api/v1/dlq/{jobId}', 'PUT'],
      ['/api/v1/monitoring/breakers', '/api/v1/monitoring/breakers', 'POST'],
      ['/api/v1/run/sync', '/api/v1/run/{taskType}', 'GET'],
    ] as const) {
      const documented = Object.keys(doc.paths[documentedAs] ?? {}).map((m) => m.toUpperCase());
      assert.ok(documented.length > 0, `${path} is documented`);
      assert.ok(!documented.includes(method), `${method} ${path} is not`);
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
        ...(method === 'GET' ? {} : { body: '{}' }),
      });
      assert.equal(res.status, 405, `${method} ${path}`);
      const allowed = (res.headers.get('allow') ?? '').split(/,\s*/).filter((m) => m !== 'HEAD');
      assert.deepEqual(allowed.sort(), documented.sort(), `${method} ${path}: Allow`);
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      assert.equal(typeof body.error?.code, 'string', `${method} ${path}: envelope`);
    }
  });

  it('then the checked-in document of the API client is the one the gateway serves', () => {
    const checkedIn = JSON.parse(
      readFileSync(new URL('../../../libs/api-client/openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    assert.deepEqual(checkedIn, doc);
  });
});
