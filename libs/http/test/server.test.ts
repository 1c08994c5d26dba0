import assert from 'node:assert/strict';
import { Agent, get as httpGet } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { Router } from '@koa/router';
import { createHttpServer, type HttpServer, type HttpServerOptions } from '../src/index.ts';
import { captureLogs, rawRequest, testMetrics } from './support.ts';

describe('createHttpServer', () => {
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const start = async (overrides: Partial<HttpServerOptions> = {}): Promise<string> => {
    server = createHttpServer({
      logger: captureLogs().logger,
      registry: testMetrics().registry,
      readiness: {},
      port: 0,
      host: '127.0.0.1',
      ...overrides,
    });
    const { port, url } = await server.start();
    assert.ok(port > 0);
    assert.equal(url, `http://127.0.0.1:${port}`);
    return url;
  };

  it('when GET /health, then 200 ok with security headers', async () => {
    const base = await start();
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('when securityHeaders is false, then none are added', async () => {
    const base = await start({ securityHeaders: false });
    const res = await fetch(`${base}/health`);
    assert.equal(res.headers.get('x-content-type-options'), null);
  });

  it('when every readiness check passes, then /ready is 200 with each check ok', async () => {
    const base = await start({ readiness: { database: async () => {}, broker: async () => {} } });
    const res = await fetch(`${base}/ready`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: 'ready',
      checks: { database: 'ok', broker: 'ok' },
    });
  });

  it('when a check fails or hangs, then /ready is 503 naming each failure', async () => {
    const base = await start({
      readinessTimeoutMs: 50,
      readiness: {
        database: () => Promise.resolve(),
        broker: () => Promise.reject(new Error('amqp://psc:hunter2@mq refused\nstack')),
        cache: () => new Promise<void>(() => {}),
      },
    });
    const res = await fetch(`${base}/ready`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), {
      status: 'unavailable',
      checks: {
        database: 'ok',
        broker: 'amqp://psc:***@mq refused',
        cache: 'no answer within 50 ms',
      },
    });
  });

  it('when a routed request is served, then one log line and one histogram sample by route pattern', async () => {
    const logs = captureLogs();
    const metrics = testMetrics();
    const router = new Router({ prefix: '/widgets' });
    router.get('/:id', (ctx) => {
      ctx.body = { id: ctx.params['id'] };
    });
    const base = await start({
      logger: logs.logger,
      registry: metrics.registry,
      routers: [router],
    });

    const res = await fetch(`${base}/widgets/42?token=abc`, {
      headers: { 'x-api-key': 'key-123', authorization: 'Bearer tok-456' },
    });
    assert.deepEqual(await res.json(), { id: '42' });

    const line = await logs.waitFor((l) => l['msg'] === 'request');
    assert.deepEqual(
      {
        method: line['method'],
        route: line['route'],
        status: line['status'],
        level: line['level'],
      },
      { method: 'GET', route: '/widgets/:id', status: 200, level: 'info' },
    );
    assert.equal(typeof line['durationMs'], 'number');
    assert.doesNotMatch(JSON.stringify(logs.lines), /key-123|tok-456|abc/);

    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(
      text,
      /http_request_duration_seconds_count\{service="http-test",method="GET",route="\/widgets\/:id",status="200"\} 1/,
    );
    assert.match(text, /psc_process_cpu_user_seconds_total\{service="http-test"\}/);
  });

  it(
    'when stopped with an idle keep-alive socket and an in-flight request, then the request completes and stop resolves',
    { timeout: 5_000 },
    async (t) => {
      let entered!: () => void;
      const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const router = new Router();
      router.get('/slow', async (ctx) => {
        entered();
        await released;
        ctx.body = { done: true };
      });
      const base = await start({ routers: [router], stopGraceMs: 60_000 });
      const agent = new Agent({ keepAlive: true });
      t.after(() => agent.destroy());

      // Leaves an idle keep-alive socket in the agent's pool.
      await new Promise<void>((resolve, reject) => {
        httpGet(`${base}/health`, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject);
      });
      const slow = rawRequest(`${base}/slow`, { method: 'GET' });
      await handlerEntered;

      const stopped = server!.stop();
      server = undefined;
      release();
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal(res.headers.connection, 'close');
      await stopped; // times the test out if a socket were left open until the 60 s grace
      await assert.rejects(fetch(`${base}/health`));
    },
  );
});
