import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import { createServer, type AddressInfo, type LookupFunction } from 'node:net';
import { describe, it } from 'node:test';
import { AppError } from '@psc/core';
import { createEgressGuard } from '../src/index.ts';

// Every resolver here is a stub: these tests never send a DNS query or open a connection
// anywhere but 127.0.0.1, even when the guard under test is broken.
const PUBLIC = '93.184.216.34';
const stubResolver = (answers: Record<string, string[]>) => {
  const asked: string[] = [];
  const resolve = (hostname: string): Promise<string[]> => {
    asked.push(hostname);
    const found = answers[hostname];
    return found ? Promise.resolve(found) : Promise.reject(new Error(`ENOTFOUND ${hostname}`));
  };
  return { resolve, asked };
};

async function denial(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.code, 'egress_denied');
    assert.equal(err.status, 422);
    assert.equal(err.retryable, false);
    return err;
  }
  assert.fail('expected the URL to be refused');
}

function lookupOnce(lookup: LookupFunction, hostname: string, all = false) {
  return new Promise<unknown>((resolve, reject) => {
    lookup(hostname, { all }, (err, address, family) =>
      err ? reject(err) : resolve(all ? address : { address, family }),
    );
  });
}

describe('createEgressGuard().checkUrl', () => {
  const guard = createEgressGuard({ allow: [], resolve: stubResolver({}).resolve });

  const refused: [string, RegExp][] = [
    ['http://127.0.0.1/booth/all', /loopback/],
    ['http://10.0.0.1/', /private/],
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://[::1]:8080/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /IPv4-mapped/],
    ['http://[::ffff:0:127.0.0.1]/', /IPv4-translated/],
    ['http://[::ffff:0:7f00:1]/', /IPv4-translated/],
    ['http://[0:0:0:0:ffff:0:a9fe:a9fe]/', /IPv4-translated/],
    ['http://[::ffff:0:8.8.8.8]/', /IPv4-translated/],
    ['http://2130706433/', /disguised/],
    ['http://0x7f000001/', /disguised/],
    ['http://0177.0.0.1/', /disguised/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://[fd00::1]/', /unique-local/],
    ['http://100.64.0.1/', /carrier-grade/],
    ['http://[fe80::1]/', /link-local/],
    ['http://user:pw@booths.example.com/', /credentials/],
    ['file:///etc/passwd', /scheme file/],
    ['gopher://booths.example.com:70/_x', /scheme gopher/],
    ['not a url', /not a valid URL/],
  ];
  for (const [url, reason] of refused) {
    it(`when the URL is ${url}, then it is refused (${String(reason)})`, async () => {
      const err = await denial(guard.checkUrl(url));
      assert.match(err.message, reason);
      assert.doesNotMatch(err.message, /pw/);
    });
  }

  it('when a public IP literal is given, then it is allowed without any lookup', async () => {
    const { resolve, asked } = stubResolver({});
    await createEgressGuard({ allow: [], resolve }).checkUrl(`https://${PUBLIC}/x`);
    assert.deepEqual(asked, []);
  });

  it('when a host resolves to a public address, then it is allowed', async () => {
    const { resolve, asked } = stubResolver({ 'booths.example.com': [PUBLIC] });
    await createEgressGuard({ allow: [], resolve }).checkUrl('https://booths.example.com/a');
    assert.deepEqual(asked, ['booths.example.com']);
  });

  it('when any address of a host is private, then the host is refused', async () => {
    const { resolve } = stubResolver({ 'mixed.example.com': [PUBLIC, '192.168.1.5'] });
    const err = await denial(
      createEgressGuard({ allow: [], resolve }).checkUrl('http://mixed.example.com/'),
    );
    assert.match(err.message, /mixed\.example\.com resolves to a blocked address \(private\)/);
  });

  it('when a host cannot be resolved, then it is refused', async () => {
    const err = await denial(guard.checkUrl('http://nowhere.invalid/'));
    assert.match(err.message, /cannot resolve nowhere\.invalid/);
  });

  it('when the allow list names a host, an address or a CIDR, then those are allowed', async () => {
    const { resolve, asked } = stubResolver({ 'internal.corp': ['10.1.2.3'] });
    const allowed = createEgressGuard({
      allow: ['127.0.0.1', 'localhost', '10.1.0.0/16', '::1'],
      resolve,
    });
    await allowed.checkUrl('http://127.0.0.1:9400/booth/all');
    await allowed.checkUrl('http://localhost:9400/');
    await allowed.checkUrl('http://[::1]/');
    await allowed.checkUrl('http://internal.corp/');
    assert.deepEqual(asked, ['internal.corp']);
    await denial(allowed.checkUrl('http://127.0.0.2/'));
    await denial(allowed.checkUrl('http://10.2.0.1/'));
    // The IPv4-mapped form of an allowed IPv4 address stays refused.
    await denial(allowed.checkUrl('http://[::ffff:127.0.0.1]/'));
    // So does its IPv4-translated form.
    await denial(allowed.checkUrl('http://[::ffff:0:127.0.0.1]/'));
    // Disguises stay refused even when the address they stand for is allowed.
    await denial(allowed.checkUrl('http://2130706433/'));
  });

  it('when an allow entry is not a host, address or CIDR, then the guard refuses to build', () => {
    assert.throws(() => createEgressGuard({ allow: ['http://x/'] }), /not a host name/);
    assert.throws(() => createEgressGuard({ allow: ['10.0.0.0/40'] }), /prefix/);
  });
});

describe('createEgressGuard().lookup', () => {
  it('when a name answered public at save time and private at call time, then the connect-time lookup refuses it', async () => {
    const answers: Record<string, string[]> = { 'rebind.example.com': [PUBLIC] };
    const guard = createEgressGuard({
      allow: [],
      resolve: (h) => Promise.resolve(answers[h] ?? []),
    });
    await guard.checkUrl('http://rebind.example.com/');
    answers['rebind.example.com'] = ['10.0.0.7'];
    const err = await lookupOnce(guard.lookup, 'rebind.example.com').catch((e: unknown) => e);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'egress_denied');
    assert.match(err.message, /private/);
  });

  it('when a name resolves to an IPv4-translated address, then both checkUrl and the connect-time lookup refuse it', async () => {
    const guard = createEgressGuard({
      allow: ['127.0.0.1'],
      resolve: () => Promise.resolve(['::ffff:0:7f00:1']),
    });
    const early = await denial(guard.checkUrl('http://translated.example.com/'));
    assert.match(early.message, /IPv4-translated/);
    const err = await lookupOnce(guard.lookup, 'translated.example.com').catch((e: unknown) => e);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'egress_denied');
    assert.match(err.message, /IPv4-translated/);
  });

  it('when a name resolves to allowed addresses, then lookup answers like dns.lookup', async () => {
    const guard = createEgressGuard({
      allow: [],
      resolve: () => Promise.resolve([PUBLIC, '2606:4700::1']),
    });
    assert.deepEqual(await lookupOnce(guard.lookup, 'ok.example.com'), {
      address: PUBLIC,
      family: 4,
    });
    assert.deepEqual(await lookupOnce(guard.lookup, 'ok.example.com', true), [
      { address: PUBLIC, family: 4 },
      { address: '2606:4700::1', family: 6 },
    ]);
  });

  it('when an http.Agent uses the lookup, then a refused name never gets a connection and an allowed one does', async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections += 1;
      socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const guard = createEgressGuard({
      allow: ['127.0.0.1'],
      resolve: (h) => Promise.resolve(h === 'good.test' ? ['127.0.0.1'] : ['10.0.0.1']),
    });
    // The connect step is stubbed: whatever the guard decides, the socket goes to 127.0.0.1, so
    // a broken guard shows up as a recorded decision, never as traffic to 10.0.0.1.
    const decided: string[] = [];
    const loopbackOnly: LookupFunction = (hostname, options, callback) =>
      guard.lookup(hostname, { ...options, all: false }, (err, address) => {
        if (err) return callback(err, '', 0);
        decided.push(typeof address === 'string' ? address : JSON.stringify(address));
        return options.all
          ? callback(null, [{ address: '127.0.0.1', family: 4 }])
          : callback(null, '127.0.0.1', 4);
      });
    const agent = new Agent({ lookup: loopbackOnly, keepAlive: false });
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host, port, path: '/', agent }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const err = await get('evil.test').catch((e: unknown) => e);
      assert.equal((err as { code?: string }).code, 'egress_denied');
      assert.deepEqual(decided, []);
      assert.equal(connections, 0);
      assert.equal(await get('good.test'), 204);
      assert.deepEqual(decided, ['127.0.0.1']);
      assert.equal(connections, 1);
    } finally {
      agent.destroy();
      server.close();
    }
  });
});
