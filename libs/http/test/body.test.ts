import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Router } from '@koa/router';
import { createHttpServer, jsonBody, type HttpServer } from '../src/index.ts';
import { captureLogs, rawRequest, testMetrics } from './support.ts';

const LIMIT = 64;

describe('jsonBody', () => {
  let server: HttpServer;
  let base: string;

  before(async () => {
    const router = new Router();
    router.use(jsonBody({ limitBytes: LIMIT }));
    router.all('/echo', (ctx) => {
      ctx.body = { received: ctx.request.body ?? null };
    });
    server = createHttpServer({
      logger: captureLogs().logger,
      registry: testMetrics().registry,
      readiness: {},
      routers: [router],
      port: 0,
      host: '127.0.0.1',
    });
    base = (await server.start()).url;
  });
  after(() => server.stop());

  const json = { 'content-type': 'application/json' };

  it('when the body is JSON within the limit, then the handler receives it', async () => {
    const res = await rawRequest(`${base}/echo`, {
      method: 'POST',
      headers: json,
      body: '{"a":[1,2]}',
    });
    assert.deepEqual(
      { status: res.status, json: res.json },
      { status: 200, json: { received: { a: [1, 2] } } },
    );
  });

  it('when there is no body, then the request passes with body undefined', async () => {
    const post = await rawRequest(`${base}/echo`, { method: 'POST' });
    assert.deepEqual(post.json, { received: null });
    const get = await rawRequest(`${base}/echo`, {
      method: 'GET',
      headers: { 'content-type': 'text/plain' },
    });
    assert.deepEqual(get.json, { received: null });
  });

  it('when the content type is not JSON, then 415', async () => {
    const res = await rawRequest(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"a":1}',
    });
    assert.equal(res.status, 415);
    assert.deepEqual(res.json, {
      error: { code: 'unsupported_media_type', message: 'content-type must be application/json' },
    });
  });

  // Bounded: a regression would otherwise wait forever for a body that never comes.
  it(
    'when the content-length is over the limit, then 413 without reading the body',
    { timeout: 5_000 },
    async () => {
      const res = await rawRequest(`${base}/echo`, {
        method: 'PUT',
        headers: { ...json, 'content-length': String(LIMIT * 1024) },
        end: false,
      });
      assert.equal(res.status, 413);
      assert.deepEqual(res.json, {
        error: { code: 'payload_too_large', message: `request body exceeds ${LIMIT} bytes` },
      });
    },
  );

  it(
    'when a chunked body streams past the limit, then 413 before the body ends',
    { timeout: 5_000 },
    async () => {
      // The request is never ended: only a limit enforced while streaming can answer it.
      const res = await rawRequest(`${base}/echo`, {
        method: 'POST',
        headers: { ...json, 'transfer-encoding': 'chunked' },
        body: `[${'1,'.repeat(LIMIT)}`,
        end: false,
      });
      assert.equal(res.status, 413);
      assert.equal(res.headers.connection, 'close');
    },
  );

  it('when the JSON is malformed, then 400', async () => {
    const res = await rawRequest(`${base}/echo`, { method: 'PATCH', headers: json, body: '{"a":' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, {
      error: { code: 'bad_request', message: 'request body is not valid JSON' },
    });
  });
});
