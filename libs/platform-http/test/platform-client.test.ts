import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, it, type TestContext } from 'node:test';
import { platformWithSecrets, type PlatformWithSecrets } from '@psc/contracts';
import { AppError } from '@psc/core';
import { createEgressGuard } from '@psc/egress';
import { DeferError } from '@psc/messaging';
import { startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { createPlatformBreakers, createPlatformHttpClient } from '../src/index.ts';

const silent = { info: () => undefined };

function platformAt(fake: FakePlatform, extra: Record<string, unknown> = {}): PlatformWithSecrets {
  const now = new Date().toISOString();
  return platformWithSecrets.parse({
    name: `p-${randomUUID().slice(0, 8)}`,
    baseUrl: fake.url,
    resources: [{ name: 'r', request: { path: '/' }, itemsPath: '$', key: 'id', mapping: {} }],
    ...extra,
    id: randomUUID(),
    version: 1,
    createdAt: now,
    updatedAt: now,
  });
}

async function setup(t: TestContext, allow = ['127.0.0.1']) {
  const fake = await startFakePlatform();
  const breakers = createPlatformBreakers({ logger: silent });
  const client = createPlatformHttpClient({
    maxBytes: 1_024,
    egress: createEgressGuard({ allow }),
    breakers,
  });
  t.after(async () => {
    client.close();
    await fake.stop();
  });
  return { fake, client, breakers };
}

const rejection = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, String(err));
  return err;
};

describe('@psc/platform-http: createPlatformHttpClient', () => {
  it('when a POST has a body and the platform uses query auth, then the body is JSON and the returned URL has no credential', async (t) => {
    const { fake, client } = await setup(t);
    fake.route('POST', '/search', (req) => ({ body: { echo: req.body } }));
    const platform = platformAt(fake, { auth: { type: 'query', name: 'key', token: 'sekret' } });

    const res = await client.request(platform, {
      method: 'POST',
      path: '/search',
      query: { q: 'x' },
      headers: { 'X-Trace': 'abc' },
      body: { date: '2024-01-01' },
    });

    assert.deepEqual(res.body, { echo: { date: '2024-01-01' } });
    assert.equal(res.url, `${fake.url}/search?q=x`);
    const [seen] = fake.requests;
    assert.equal(seen?.query.key, 'sekret');
    assert.equal(seen?.headers['content-type'], 'application/json');
    assert.equal(seen?.headers['x-trace'], 'abc');
  });

  it('when the platform redirects, answers too much, or answers 503 with Retry-After, then each fails with its own class', async (t) => {
    const { fake, client } = await setup(t);
    fake.route('GET', '/moved', () => ({
      status: 302,
      headers: { location: 'http://example.com/' },
    }));
    fake.route('GET', '/big', () => ({ body: { blob: 'x'.repeat(2_000) } }));
    fake.route('GET', '/busy', () => ({ status: 503, headers: { 'retry-after': '3' } }));
    const platform = platformAt(fake);

    const redirect = await rejection(client.request(platform, { path: '/moved' }));
    assert.equal(redirect.code, 'redirect_blocked');
    const big = await rejection(client.request(platform, { path: '/big' }));
    assert.equal(big.code, 'response_too_large');
    assert.equal(big.retryable, false);
    const busy = await rejection(client.request(platform, { path: '/busy' }));
    assert.equal(busy.code, 'upstream_status');
    assert.equal(busy.retryable, true);
    assert.equal((busy as AppError & { retryAfterMs?: number }).retryAfterMs, 3_000);
  });

  it('when the egress guard does not allow the platform, then nothing is sent', async (t) => {
    const { fake, client } = await setup(t, []);
    const err = await rejection(client.request(platformAt(fake), { path: '/x' }));
    assert.equal(err.code, 'egress_denied');
    assert.equal(fake.requests.length, 0);
  });

  it('when failures open the breaker, then calls are deferred and it lists the platform as open until reset', async (t) => {
    const { fake, client, breakers } = await setup(t);
    fake.setFault({ status: 500 });
    const platform = platformAt(fake, {
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
    });
    for (let i = 0; i < 2; i += 1) await rejection(client.request(platform, { path: '/x' }));

    const deferred = await client.request(platform, { path: '/x' }).catch((e: unknown) => e);
    assert.ok(deferred instanceof DeferError);
    assert.equal(deferred.delayMs, 30_000, 'capped below the 60 s reset timeout');
    assert.equal(fake.requests.length, 2, 'the open breaker sent nothing');
    assert.deepEqual(breakers.openBreakers(), [platform.id]);
    assert.equal(breakers.state(platform.id), 'open');

    fake.setFault(null);
    fake.route('GET', '/x', () => ({ body: { ok: true } }));
    breakers.reset(platform.id);
    assert.equal(breakers.state(platform.id), 'closed');
    assert.deepEqual((await client.request(platform, { path: '/x' })).body, { ok: true });
  });

  it('when the rate limit defers a job, then its breaker counts nothing: a closed one stays closed, a half-open one waits for a real call', async (t) => {
    const fake = await startFakePlatform();
    const breakers = createPlatformBreakers({ logger: silent });
    let busy = true;
    const seen: (string | undefined)[] = [];
    const client = createPlatformHttpClient({
      maxBytes: 1_024,
      egress: createEgressGuard({ allow: ['127.0.0.1'] }),
      breakers,
      limit: (_platform, task, { deferAs }) => {
        seen.push(deferAs);
        if (busy) return Promise.reject(new DeferError('platform is rate-limited', 1_000));
        return task();
      },
    });
    t.after(async () => {
      client.close();
      await fake.stop();
    });
    fake.route('GET', '/x', () => ({ body: { ok: true } }));
    const platform = platformAt(fake, {
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 200 },
    });

    const deferral = () =>
      client.request(platform, { path: '/x' }, { deferAs: 'job-1/1' }).then(
        () => assert.fail('expected a deferral'),
        (e: unknown) => e,
      );
    for (let i = 0; i < 3; i += 1) assert.ok((await deferral()) instanceof DeferError);
    assert.equal(breakers.state(platform.id), 'closed', 'three deferrals are no failures');
    assert.deepEqual(seen, ['job-1/1', 'job-1/1', 'job-1/1'], 'the limit was told the job');

    busy = false;
    fake.setFault({ status: 500 });
    await rejection(client.request(platform, { path: '/x' }));
    assert.equal(breakers.state(platform.id), 'open', 'one real failure opens it');
    await waitFor(() => breakers.state(platform.id) === 'half-open', {
      message: 'the breaker lets a probe through after its reset timeout',
    });
    fake.setFault(null);
    busy = true;
    const deferred = await deferral();
    assert.ok(deferred instanceof DeferError);
    assert.equal(deferred.message, 'platform is rate-limited');
    assert.equal(breakers.state(platform.id), 'half-open', 'a deferral is no probe');
    busy = false;
    assert.deepEqual((await client.request(platform, { path: '/x' })).body, { ok: true });
    assert.equal(breakers.state(platform.id), 'closed', 'the real probe closed it');
  });

  it('when a body is not JSON, is cut off or stalls past the timeout, then each fails as retryable with what happened, and the next call is answered', async (t) => {
    const { client } = await setup(t);
    // A platform of its own: the fake platform only answers whole bodies.
    const server: Server = createServer((req, res) => {
      if (req.url === '/bad-json') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '9' });
        res.end('{"data":[');
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
        res.write('{"data":[{"id":1},', () => req.socket.destroy());
      } else if (req.url === '/stall') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
        res.write('{"data":[{"id":1},');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data":[{"id":2}]}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const platform = platformAt({ url } as FakePlatform, { timeoutMs: 300 });

    const badJson = await rejection(client.request(platform, { path: '/bad-json' }));
    assert.equal(badJson.code, 'bad_upstream_response');
    assert.equal(badJson.retryable, true);
    assert.match(badJson.message, /9 bytes that are not valid JSON/);
    const cut = await rejection(client.request(platform, { path: '/cut' }));
    assert.equal(cut.code, 'bad_upstream_response');
    assert.equal(cut.retryable, true);
    assert.match(cut.message, /cut off/);
    const started = Date.now();
    const stalled = await rejection(client.request(platform, { path: '/stall' }));
    assert.equal(stalled.retryable, true);
    assert.ok(Date.now() - started < 5_000, 'the timeout ended the read');
    assert.deepEqual((await client.request(platform, { path: '/ok' })).body, {
      data: [{ id: 2 }],
    });
  });

  it('when a compressed body (gzip, deflate, br) expands past the size bound, a body trickles a byte at a time without end, or the headers overflow, then each call ends with its own error, and the next call is answered', async (t) => {
    // 20 MB of spaces compress to at most 20 KB, under this client's 64 KB bound: the bound
    // must hold on what they expand to.
    const client = createPlatformHttpClient({
      maxBytes: 64 * 1_024,
      egress: createEgressGuard({ allow: ['127.0.0.1'] }),
      breakers: createPlatformBreakers({ logger: silent }),
    });
    t.after(() => client.close());
    const expanded = Buffer.alloc(20_000_000, 0x20);
    const bombs: Record<string, Buffer> = {
      gzip: gzipSync(expanded),
      deflate: deflateSync(expanded),
      br: brotliCompressSync(expanded),
    };
    const trickles = new Set<NodeJS.Timeout>();
    const server: Server = createServer((req, res) => {
      const name = (req.url ?? '').slice(1);
      const bomb = bombs[name];
      if (bomb) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': name });
        res.end(bomb);
      } else if (name === 'trickle') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('[');
        const timer = setInterval(() => res.write(' '), 20);
        trickles.add(timer);
        res.on('close', () => clearInterval(timer));
      } else if (name === 'huge-header') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-filler': 'a'.repeat(40_000) });
        res.end('{}');
      } else if (name === 'many-headers') {
        const headers: string[] = ['content-type', 'application/json'];
        for (let i = 0; i < 5_000; i += 1) headers.push(`x-h${i}`, 'v');
        res.writeHead(200, headers);
        res.end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const timer of trickles) clearInterval(timer);
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const platform = platformAt({ url } as FakePlatform, { timeoutMs: 500 });

    for (const [encoding, bomb] of Object.entries(bombs)) {
      assert.ok(bomb.length < 64 * 1_024, `${encoding} is ${bomb.length} bytes on the wire`);
      const err = await rejection(client.request(platform, { path: `/${encoding}` }));
      assert.deepEqual(
        [encoding, err.code, err.retryable],
        [encoding, 'response_too_large', false],
      );
    }
    // Every byte comes well within any idle timeout: only a deadline on the whole call ends it.
    const started = Date.now();
    const trickled = await rejection(client.request(platform, { path: '/trickle' }));
    assert.equal(trickled.code, 'bad_upstream_response');
    assert.ok(Date.now() - started < 3_000, `the call's deadline ended the read`);
    for (const path of ['/huge-header', '/many-headers']) {
      const err = await rejection(client.request(platform, { path }));
      assert.deepEqual(
        [path, err.code, err.retryable],
        [path, 'response_headers_too_large', false],
      );
      assert.match(err.message, /16 KiB/);
    }
    assert.deepEqual((await client.request(platform, { path: '/ok' })).body, { ok: true });
  });
});
