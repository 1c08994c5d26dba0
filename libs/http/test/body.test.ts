import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Router } from '@koa/router';
import { createHttpServer, jsonBody, type HttpServer } from '../src/index.ts';
import { captureLogs, rawRequest, testMetrics } from './support.ts';

const LIMIT = 64;
/** Small, so that a body past what is dropped is cheap to send. */
const DISCARD_LIMIT = 8 * 1024 * 1024;

describe('jsonBody', () => {
  let server: HttpServer;
  let base: string;

  before(async () => {
    const router = new Router();
    router.use(jsonBody({ limitBytes: LIMIT, discardLimitBytes: DISCARD_LIMIT }));
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
    },
  );

  it('when a client sends a whole body over the limit, then it reads the 413, not a broken pipe', async () => {
    // Closing right after the answer would reset the sender mid-body (EPIPE in fetch, some of
    // the time): the refused body is read and dropped instead, so every try gets its answer.
    const body = JSON.stringify({ text: 'x'.repeat(DISCARD_LIMIT / 4) });
    for (let i = 0; i < 20; i += 1) {
      const res = await fetch(`${base}/echo`, { method: 'POST', headers: json, body });
      assert.equal(res.status, 413);
      assert.equal(
        ((await res.json()) as { error: { code: string } }).error.code,
        'payload_too_large',
      );
    }
    // And the server still answers what it should.
    const ok = await fetch(`${base}/echo`, { method: 'POST', headers: json, body: '{"a":1}' });
    assert.deepEqual(await ok.json(), { received: { a: 1 } });
  });

  it(
    'when a body goes past what is dropped, then the connection is closed instead of read on',
    { timeout: 5_000 },
    async () => {
      const declared = await rawRequest(`${base}/echo`, {
        method: 'POST',
        headers: { ...json, 'content-length': String(DISCARD_LIMIT * 2) },
        end: false,
      });
      assert.equal(declared.status, 413);
      assert.equal(declared.headers.connection, 'close');

      // A chunked body has no declared length: it is dropped until the bound, then reset. A raw
      // socket, as Node's client stops sending once it has read the answer.
      const { port } = new URL(base);
      const closed = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        socket.write(
          'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
            'transfer-encoding: chunked\r\n\r\n',
        );
        const chunk = Buffer.concat([
          Buffer.from('4000\r\n'),
          Buffer.alloc(0x4000, 0x20),
          Buffer.from('\r\n'),
        ]);
        let sent = 0;
        const pump = (): void => {
          // Sends at most three times the bound: a server that reads on forever fails the test.
          while (sent < DISCARD_LIMIT * 3) {
            sent += 0x4000;
            if (!socket.write(chunk)) {
              socket.once('drain', pump);
              return;
            }
          }
          resolve('still open');
        };
        socket.on('data', () => undefined);
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        socket.on('close', () => resolve('closed'));
        pump();
      });
      assert.match(closed, /^(ECONNRESET|EPIPE|closed)$/);
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
