import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Router } from '@koa/router';
import { z } from 'zod';
import { AppError, NotFoundError, ValidationError } from '@psc/core';
import { body, createHttpServer, jsonBody, type HttpServer } from '../src/index.ts';
import { captureLogs, testMetrics, type CapturedLogs } from './support.ts';

interface WidgetState {
  tenant: string;
}

function routes(): Router<WidgetState> {
  const router = new Router<WidgetState>({ prefix: '/widgets' });
  router.use(jsonBody());
  router.get('/missing', () => {
    throw new NotFoundError('widget 42 not found', { id: 42 });
  });
  router.get('/invalid', () => {
    throw new ValidationError('colour is not allowed', { field: 'colour' });
  });
  router.get('/unavailable', () => {
    throw new AppError('platform_down', 503, 'platform is down');
  });
  router.post('/', (ctx) => {
    const widget = body(ctx, z.object({ name: z.string().min(1), sizes: z.array(z.number()) }));
    ctx.status = 201;
    ctx.body = widget;
  });
  router.get('/teapot', (ctx) => {
    ctx.throw(418, 'short and stout');
  });
  router.get('/boom', () => {
    throw new Error('connect to postgres://psc:hunter2@db failed');
  });
  return router;
}

describe('error middleware', () => {
  let server: HttpServer;
  let base: string;
  let logs: CapturedLogs;

  before(async () => {
    logs = captureLogs();
    server = createHttpServer({
      logger: logs.logger,
      registry: testMetrics().registry,
      readiness: {},
      routers: [routes()],
      port: 0,
      host: '127.0.0.1',
    });
    base = (await server.start()).url;
  });
  after(() => server.stop());

  const get = async (
    path: string,
    init?: RequestInit,
  ): Promise<{ status: number; json: unknown; res: Response }> => {
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, json: await res.json(), res };
  };

  it('when a handler throws an AppError, then its status, code, message and details are sent', async () => {
    assert.deepEqual(await get('/widgets/missing').then(({ status, json }) => ({ status, json })), {
      status: 404,
      json: { error: { code: 'not_found', message: 'widget 42 not found', details: { id: 42 } } },
    });
    const invalid = await get('/widgets/invalid');
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.json, {
      error: {
        code: 'validation_failed',
        message: 'colour is not allowed',
        details: { field: 'colour' },
      },
    });
    const down = await get('/widgets/unavailable');
    assert.equal(down.status, 503);
    assert.deepEqual(down.json, { error: { code: 'platform_down', message: 'platform is down' } });
  });

  it('when the body fails its zod schema, then 422 names the first bad path and lists all', async () => {
    const { status, json } = await get('/widgets', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '', sizes: [1, 'x'] }),
    });
    assert.equal(status, 422);
    assert.deepEqual(json, {
      error: {
        code: 'validation_failed',
        message: 'invalid body.name: Too small: expected string to have >=1 characters',
        details: [
          { path: 'body.name', message: 'Too small: expected string to have >=1 characters' },
          { path: 'body.sizes[1]', message: 'Invalid input: expected number, received string' },
        ],
      },
    });
  });

  it('when the body is valid, then the handler gets the parsed value', async () => {
    const { status, json } = await get('/widgets', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gear', sizes: [1, 2] }),
    });
    assert.equal(status, 201);
    assert.deepEqual(json, { name: 'gear', sizes: [1, 2] });
  });

  it('when koa throws an exposed http error, then its status and a code from the status text', async () => {
    const { status, json } = await get('/widgets/teapot');
    assert.equal(status, 418);
    assert.deepEqual(json, { error: { code: 'i_m_a_teapot', message: 'short and stout' } });
  });

  it('when an unexpected error is thrown, then 500 internal without its message, and it is logged', async () => {
    const { status, json } = await get('/widgets/boom');
    assert.equal(status, 500);
    assert.deepEqual(json, { error: { code: 'internal', message: 'internal error' } });
    const line = await logs.waitFor((l) => l['msg'] === 'unhandled error');
    const err = line['err'] as { message: string; stack: string };
    assert.equal(err.message, 'connect to postgres://psc:***@db failed');
    assert.doesNotMatch(JSON.stringify(line), /hunter2/);
  });

  it('when no route matches, then 404 in the envelope', async () => {
    const { status, json } = await get('/nowhere');
    assert.equal(status, 404);
    assert.deepEqual(json, { error: { code: 'not_found', message: 'no route for GET /nowhere' } });
  });

  it('when the method is not allowed, then 405 in the envelope with Allow', async () => {
    const { status, json, res } = await get('/widgets/missing', { method: 'DELETE' });
    assert.equal(status, 405);
    assert.equal(res.headers.get('allow'), 'HEAD, GET');
    assert.deepEqual(json, {
      error: { code: 'method_not_allowed', message: 'Method Not Allowed' },
    });
  });
});
